using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Router.Api;

namespace Router.Logging;

/// <summary>
/// The log levels on the local API:
/// <list type="bullet">
/// <item><c>GET /v1/log-level</c> — the levels from the configuration and those set at run time (<see cref="LogLevelResponse"/>);</item>
/// <item><c>POST /v1/log-level?level=L[&amp;category=C]</c> — set category C (default: <c>Default</c>, every category
///   without a rule of its own) to level L (<c>Trace</c> … <c>Critical</c>, <c>None</c>) until reset or reload; 400 for a bad level or category;</item>
/// <item><c>DELETE /v1/log-level</c> — drop every level set at run time.</item>
/// </list>
/// </summary>
internal static class LogLevelEndpoints
{
    public const string Path = "/v1/log-level";

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, (LogLevels levels) => Results.Json(Describe(levels), LoggingJson.Default.LogLevelResponse));
        endpoints.MapPost(Path, (LogLevels levels, string? level, string? category) =>
        {
            category ??= LogLevels.DefaultCategory;
            if (!LogLevels.TryParseLevel(level, out var parsed))
            {
                return Error($"'{level}' is not a log level; use Trace, Debug, Information, Warning, Error, Critical or None.");
            }

            if (!LogLevels.IsValidCategory(category))
            {
                return Error($"'{category}' is not a log category: use a category name such as Router.Switching (letters, digits, '.', '_', '-', '*') or {LogLevels.DefaultCategory}.");
            }

            levels.Set(category, parsed);
            return Results.Json(Describe(levels), LoggingJson.Default.LogLevelResponse);
        });
        endpoints.MapDelete(Path, (LogLevels levels) =>
        {
            levels.Reset();
            return Results.Json(Describe(levels), LoggingJson.Default.LogLevelResponse);
        });
    }

    private static IResult Error(string message) =>
        Results.Json(new ErrorResponse(message), ApiJson.Default.ErrorResponse, statusCode: StatusCodes.Status400BadRequest);

    private static LogLevelResponse Describe(LogLevels levels)
    {
        var (configured, overrides) = levels.Describe();
        return new LogLevelResponse(configured, overrides);
    }
}

/// <summary>Log levels by category: from the configuration's <c>Logging:LogLevel</c>, and set at run time (these win).</summary>
internal sealed record LogLevelResponse(IReadOnlyDictionary<string, string> Configured, IReadOnlyDictionary<string, string> Overrides);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(LogLevelResponse))]
internal sealed partial class LoggingJson : JsonSerializerContext;
