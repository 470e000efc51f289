using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Hosting;
using Router.Logging;
using Router.Metrics;
using Router.Sdk;
using Router.Switching;

namespace Router.Api;

/// <summary>
/// The local control API, HTTP/1.1 over the Unix socket <c>Router:ApiSocket</c>:
/// <list type="bullet">
/// <item><c>GET /v1/status</c> — <see cref="StatusResponse"/>;</item>
/// <item><c>GET /v1/peers</c> — the peers part of it;</item>
/// <item><c>GET /v1/routes</c> — the selected routes (<see cref="RouteInfo"/>);</item>
/// <item><c>POST /v1/echo?to=ADDRESS[&amp;hopLimit=N&amp;timeoutMs=T&amp;size=S]</c> — one mesh echo (<see cref="EchoResponse"/>);</item>
/// <item><c>POST /v1/messages?to=ADDRESS</c> (or <c>to=all</c>: flooded to every router) — the body is the message; <see cref="SendResponse"/>,
///   or 400 (bad address), 404 (no route), 413 (too large), 502 (link lost mid-message),
///   504 (no end-to-end session: the destination did not answer the key exchange);</item>
/// <item><c>GET /v1/messages</c> — messages for this router as they arrive, one
///   <see cref="MessageRecord"/> JSON per line, until the client hangs up;</item>
/// <item><c>GET|POST|DELETE /v1/log-level</c> — log levels, changeable while running (<see cref="LogLevelEndpoints"/>);</item>
/// <item><c>GET /metrics</c> — metrics in the Prometheus text format (<see cref="MetricsEndpoint"/>);</item>
/// <item><c>POST /v1/reload</c>, <c>GET /v1/plugins</c>, <c>POST /v1/plugins/{name}/load|unload</c> — live reload and hot plugins (<see cref="ReloadEndpoints"/>).</item>
/// </list>
/// Errors are <see cref="ErrorResponse"/> documents.
/// </summary>
internal static class ApiEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/status", (RouterStatus status) => Results.Json(status.Status(), ApiJson.Default.StatusResponse));
        app.MapGet("/v1/peers", (RouterStatus status) => Results.Json(status.Peers(), ApiJson.Default.IReadOnlyListPeerInfo));
        app.MapGet("/v1/routes", (RouterStatus status) => Results.Json(status.Routes(), ApiJson.Default.IReadOnlyListRouteInfo));
        app.MapPost("/v1/echo", EchoAsync);
        app.MapPost("/v1/messages", SendAsync);
        app.MapGet("/v1/messages", ListenAsync);
        LogLevelEndpoints.Map(app);
        MetricsEndpoint.Map(app);
        ReloadEndpoints.Map(app);
    }

    private static IResult Error(int status, string message) =>
        Results.Json(new ErrorResponse(message), ApiJson.Default.ErrorResponse, statusCode: status);

    private static async Task<IResult> SendAsync(HttpContext context, MessageSender sender, string? to)
    {
        if (!ApiRequests.TryParseSendTarget(to, out var destination, out var flood, out var badTarget))
        {
            return Error(StatusCodes.Status400BadRequest, badTarget);
        }

        var limit = sender.MaxMessageBytes;
        if (context.Request.ContentLength > limit)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, $"the message is {context.Request.ContentLength} bytes; the limit (Router:MaxMessageBytes) is {limit}");
        }

        context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize = null;
        using var body = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            if (body.Length + read > limit)
            {
                return Error(StatusCodes.Status413PayloadTooLarge, $"the message is larger than the limit (Router:MaxMessageBytes) of {limit} bytes");
            }

            body.Write(buffer, 0, read);
        }

        if (flood)
        {
            var (flooded, floodId, neighbours) = await sender.FloodAsync(body.GetBuffer().AsMemory(0, (int)body.Length), context.RequestAborted);
            return flooded switch
            {
                OriginateResult.Sent => Results.Json(new SendResponse("all", floodId, (int)body.Length), ApiJson.Default.SendResponse),
                OriginateResult.TooLarge => Error(StatusCodes.Status413PayloadTooLarge, $"the message is larger than the limit (Router:MaxMessageBytes) of {limit} bytes"),
                _ => Error(StatusCodes.Status404NotFound, $"no neighbours to flood to ({neighbours} reached)"),
            };
        }

        var (result, messageId) = await sender.SendAsync(destination, body.GetBuffer().AsMemory(0, (int)body.Length), context.RequestAborted);
        return result switch
        {
            OriginateResult.Sent => Results.Json(new SendResponse(destination.ToString(), messageId, (int)body.Length), ApiJson.Default.SendResponse),
            OriginateResult.NoRoute => Error(StatusCodes.Status404NotFound, $"no route to {destination}: no path to it is known (see router routes)"),
            OriginateResult.TooLarge => Error(StatusCodes.Status413PayloadTooLarge, $"the message is larger than the limit (Router:MaxMessageBytes) of {limit} bytes"),
            OriginateResult.NoSession => Error(StatusCodes.Status504GatewayTimeout, $"{destination} did not answer the end-to-end key exchange within Router:SessionHandshakeTimeoutSeconds; nothing was sent"),
            _ => Error(StatusCodes.Status502BadGateway, $"the link towards {destination} was lost while sending; the message may be incomplete at the destination"),
        };
    }

    private static async Task<IResult> EchoAsync(HttpContext context, EchoService echo, MessageSender sender, string? to, int? hopLimit, int? timeoutMs, int? size)
    {
        if (!ApiRequests.TryParseEcho(to, hopLimit, timeoutMs, size, sender.HopLimit, out var request, out var badRequest))
        {
            return Error(StatusCodes.Status400BadRequest, badRequest);
        }

        var result = await echo.PingAsync(request.Destination, request.HopLimit, request.Size, request.Timeout, context.RequestAborted);
        var outcome = result.Outcome switch
        {
            EchoOutcome.Reply => "reply",
            EchoOutcome.HopLimitExceeded => "hopLimitExceeded",
            EchoOutcome.NoRoute => "noRoute",
            _ => "timeout",
        };
        return Results.Json(
            new EchoResponse(outcome, result.Responder.IsNone ? null : result.Responder.ToString(), Math.Round(result.RoundTrip.TotalMilliseconds, 3), request.HopLimit),
            ApiJson.Default.EchoResponse);
    }

    private static async Task ListenAsync(HttpContext context, Inbox inbox, IHostApplicationLifetime lifetime)
    {
        // The stream ends when the client hangs up or the router shuts down.
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        context.Response.ContentType = "application/x-ndjson";
        var reader = inbox.Listen(done.Token);
        var output = context.Response.BodyWriter;

        // Send the headers now: the client reports "listening" once they arrive, and by then
        // this listener is subscribed.
        await context.Response.StartAsync(done.Token);
        await output.FlushAsync(done.Token);
        try
        {
            await foreach (var message in reader.ReadAllAsync(done.Token))
            {
                var record = new MessageRecord(message.From.ToString(), message.MessageId, message.ReceivedAt, message.Payload.Length, message.Payload);
                await using (var writer = new Utf8JsonWriter(output))
                {
                    JsonSerializer.Serialize(writer, record, ApiJson.Default.MessageRecord);
                }

                output.Write("\n"u8);
                await output.FlushAsync(done.Token);
            }
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }
    }
}
