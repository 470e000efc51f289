using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Router.Metrics;

namespace Router.Dashboard;

/// <summary>
/// The dashboard's HTTP surface, all read-only GETs:
/// <list type="bullet">
/// <item><c>GET /</c> — the page (one self-contained HTML file, embedded in the router);</item>
/// <item><c>GET /api/snapshot</c> — one <see cref="DashboardSnapshot"/> as JSON;</item>
/// <item><c>GET /api/events</c> — server-sent events: a <c>snapshot</c> event about once a second until the client hangs up;</item>
/// <item><c>GET /metrics</c> — the router's metrics for Prometheus (<see cref="MetricsEndpoint"/>, the same route as on the API socket).</item>
/// </list>
/// Every request is first checked against <see cref="DashboardHosts"/> (400 otherwise); every
/// response forbids framing, sniffing and caching, and the page's CSP admits only its own
/// inline script and style (by hash) and connections back to this origin.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>Event streams open at once; more are refused (503) so a stuck client cannot pile up work.</summary>
    public const int MaxEventStreams = 16;

    public static readonly TimeSpan EventInterval = TimeSpan.FromSeconds(1);

    private static readonly Lazy<Page> Html = new(Page.Load);

    public static void Map(WebApplication app)
    {
        var hosts = app.Services.GetRequiredService<DashboardHosts>();
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers.CacheControl = "no-store";
            headers["Referrer-Policy"] = "no-referrer";
            if (!hosts.IsAllowed(context.Request.Host))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync($"Host '{context.Request.Host}' is not allowed: open the dashboard by its address, by localhost, or add the name to Router:Dashboard:AllowedHosts.\n", context.RequestAborted);
                return;
            }

            await next(context);
        });

        var streams = new EventStreams();
        app.MapGet("/", (HttpContext context) =>
        {
            var page = Html.Value;
            context.Response.Headers.ContentSecurityPolicy = page.ContentSecurityPolicy;
            return Results.Bytes(page.Content, "text/html; charset=utf-8");
        });
        app.MapGet("/api/snapshot", (DashboardState state) => Results.Json(state.Snapshot(), DashboardJson.Default.DashboardSnapshot));
        app.MapGet("/api/events", (HttpContext context, DashboardState state, TimeProvider time, IHostApplicationLifetime lifetime) =>
            StreamAsync(context, state, time, lifetime, streams));
        MetricsEndpoint.Map(app);
    }

    private static async Task StreamAsync(HttpContext context, DashboardState state, TimeProvider time, IHostApplicationLifetime lifetime, EventStreams streams)
    {
        if (!streams.TryOpen())
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync($"at most {MaxEventStreams} event streams at once\n", context.RequestAborted);
            return;
        }

        // The stream ends when the client hangs up or the dashboard stops.
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            var output = context.Response.BodyWriter;

            // Ask an EventSource that lost the router to try again every 2 s.
            output.Write("retry: 2000\n\n"u8);
            using var timer = new PeriodicTimer(EventInterval, time);
            do
            {
                output.Write("event: snapshot\ndata: "u8);
                await using (var writer = new Utf8JsonWriter(output))
                {
                    JsonSerializer.Serialize(writer, state.Snapshot(), DashboardJson.Default.DashboardSnapshot);
                }

                output.Write("\n\n"u8);
                await output.FlushAsync(done.Token);
            }
            while (await timer.WaitForNextTickAsync(done.Token));
        }
        catch (OperationCanceledException) when (done.IsCancellationRequested)
        {
        }
        finally
        {
            streams.Close();
        }
    }

    private sealed class EventStreams
    {
        private int _open;

        public bool TryOpen()
        {
            if (Interlocked.Increment(ref _open) <= MaxEventStreams)
            {
                return true;
            }

            Interlocked.Decrement(ref _open);
            return false;
        }

        public void Close() => Interlocked.Decrement(ref _open);
    }

    /// <summary>The embedded page, and a CSP naming the hashes of its one script and one style block.</summary>
    private sealed record Page(byte[] Content, string ContentSecurityPolicy)
    {
        public static Page Load()
        {
            using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Router.Dashboard.dashboard.html")
                ?? throw new InvalidOperationException("the dashboard page is not embedded in the router (Router.Dashboard.dashboard.html)");
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var content = memory.ToArray();
            var text = Encoding.UTF8.GetString(content);
            var csp = $"default-src 'none'; script-src {Hash(text, "script")}; style-src {Hash(text, "style")}; " +
                "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
            return new Page(content, csp);
        }

        private static string Hash(string html, string element)
        {
            var open = $"<{element}>";
            var start = html.IndexOf(open, StringComparison.Ordinal);
            var end = html.IndexOf($"</{element}>", StringComparison.Ordinal);
            if (start < 0 || end < start || html.IndexOf(open, end, StringComparison.Ordinal) >= 0)
            {
                throw new InvalidOperationException($"the dashboard page must have exactly one plain <{element}> block");
            }

            var body = html.AsSpan(start + open.Length, end - start - open.Length);
            return $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(body.ToString())))}'";
        }
    }
}
