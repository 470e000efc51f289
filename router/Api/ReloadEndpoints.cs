using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Router.Hosting;

namespace Router.Api;

/// <summary>
/// Live reload and hot plugins on the local API:
/// <list type="bullet">
/// <item><c>POST /v1/reload</c> — re-read the configuration file and apply it (<see cref="ReloadResponse"/>);
///   200 when applied (<c>failures</c> lists changes that could not be made), 422 when rejected (<c>problems</c>: every reason; nothing changed);</item>
/// <item><c>GET /v1/plugins</c> — the loaded netmods (<see cref="PluginInfo"/>);</item>
/// <item><c>POST /v1/plugins/{name}/load</c> — load <c>plugins/NAME/NAME.dll</c> and start it (<see cref="PluginActionResponse"/>);
///   400 bad name, 404 no such plugin folder, 409 already loaded, 422 the plugin or its configuration is unusable or it failed to start;</item>
/// <item><c>POST /v1/plugins/{name}/unload</c> — stop it and unload its load context; 404 when not loaded.</item>
/// </list>
/// </summary>
internal static class ReloadEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/v1/reload", ReloadAsync);
        endpoints.MapGet("/v1/plugins", (PluginControl plugins) => Results.Json(Describe(plugins.Loaded), ReloadJson.Default.IReadOnlyListPluginInfo));
        endpoints.MapPost("/v1/plugins/{name}/load", (PluginControl plugins, string name, IHostApplicationLifetime lifetime) =>
            RunAsync(plugins.LoadAsync(name, lifetime.ApplicationStopping), name, "load"));
        endpoints.MapPost("/v1/plugins/{name}/unload", (PluginControl plugins, string name, IHostApplicationLifetime lifetime) =>
            RunAsync(plugins.UnloadAsync(name, lifetime.ApplicationStopping), name, "unload"));
    }

    public static IReadOnlyList<PluginInfo> Describe(IEnumerable<NetmodInstance> instances) =>
        [.. instances.Select(Describe)];

    private static PluginInfo Describe(NetmodInstance i) => new(
        i.Name,
        i.Plugin.AssemblyVersion.ToString(3),
        i.Plugin.SdkVersion.ToString(2),
        i.State.ToString().ToLowerInvariant(),
        i.Plugin.AssemblyPath,
        i.Error);

    private static async Task<IResult> ReloadAsync(ConfigReloader reloader, IHostApplicationLifetime lifetime)
    {
        // Not the request's token: a reload once begun finishes even if the client hangs up.
        var result = await reloader.ReloadFromFileAsync(lifetime.ApplicationStopping);
        var response = new ReloadResponse(result.Applied, result.File, result.Problems, result.Changes, result.Warnings, result.Failures);
        return Results.Json(response, ReloadJson.Default.ReloadResponse, statusCode: result.Applied ? StatusCodes.Status200OK : StatusCodes.Status422UnprocessableEntity);
    }

    private static async Task<IResult> RunAsync(Task<PluginCommandResult> command, string name, string action)
    {
        var result = await command;
        if (result.Outcome == PluginOutcome.Done)
        {
            return Results.Json(
                new PluginActionResponse(name, action, result.Message, result.Instance is null ? null : Describe(result.Instance), result.Collected),
                ReloadJson.Default.PluginActionResponse);
        }

        var status = result.Outcome switch
        {
            PluginOutcome.BadName => StatusCodes.Status400BadRequest,
            PluginOutcome.NotFound => StatusCodes.Status404NotFound,
            PluginOutcome.AlreadyLoaded => StatusCodes.Status409Conflict,
            _ => StatusCodes.Status422UnprocessableEntity,
        };
        return Results.Json(new ErrorResponse(result.Message), ApiJson.Default.ErrorResponse, statusCode: status);
    }
}

/// <summary>
/// The outcome of <c>POST /v1/reload</c>. <c>Applied</c> false: the file was rejected for
/// <c>Problems</c> and nothing changed. Otherwise <c>Changes</c> says what changed, <c>Warnings</c>
/// which changed keys need a restart, and <c>Failures</c> which valid changes could not be made.
/// </summary>
internal sealed record ReloadResponse(bool Applied, string File, IReadOnlyList<string> Problems, IReadOnlyList<string> Changes, IReadOnlyList<string> Warnings, IReadOnlyList<string> Failures);

/// <summary>A loaded netmod plugin: its version, the SDK version it was built against, the state of its netmod.</summary>
internal sealed record PluginInfo(string Name, string Version, string SdkVersion, string State, string Path, string? Error);

/// <summary>
/// The outcome of a plugin load or unload. After an unload <c>ContextCollected</c> says whether
/// the plugin's load context was garbage-collected (null: it stays, shared with another netmod).
/// </summary>
internal sealed record PluginActionResponse(string Name, string Action, string Message, PluginInfo? Plugin, bool? ContextCollected);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ReloadResponse))]
[JsonSerializable(typeof(IReadOnlyList<PluginInfo>))]
[JsonSerializable(typeof(PluginActionResponse))]
internal sealed partial class ReloadJson : JsonSerializerContext;
