using System.Diagnostics.CodeAnalysis;
using Router.Sdk;

namespace Router.Api;

/// <summary>An echo request as <c>POST /v1/echo</c> accepted it: defaults applied, ranges checked.</summary>
internal readonly record struct EchoParameters(RouterAddress Destination, byte HopLimit, int Size, TimeSpan Timeout);

/// <summary>
/// The checks the endpoints apply to what a client sends, as pure functions so tests and the
/// fuzzer (tests/Router.Fuzz) run exactly the endpoints' code without HTTP. The numbers arrive
/// already converted by ASP.NET's parameter binding, which answers 400 itself for a value that
/// is not an integer. The messages are the 400 responses' texts.
/// </summary>
internal static class ApiRequests
{
    /// <summary>
    /// The <c>to</c> of <c>POST /v1/messages</c>: a router address, or <c>all</c> (any case) for a
    /// flood, in which case <paramref name="destination"/> is <see cref="RouterAddress.None"/>.
    /// </summary>
    public static bool TryParseSendTarget(string? to, out RouterAddress destination, out bool flood, [NotNullWhen(false)] out string? error)
    {
        flood = string.Equals(to, "all", StringComparison.OrdinalIgnoreCase);
        destination = RouterAddress.None;
        if (!flood && !RouterAddress.TryParse(to, out destination))
        {
            error = $"'{to}' is not a router address (64 hex digits, optionally grouped with '-') or 'all'";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// The query of <c>POST /v1/echo</c>: <c>to</c> must be an address; hop limit 1–255 (default
    /// <paramref name="defaultHopLimit"/>), timeout 1–60000 ms (default 2000), size 0–60000 (default 0).
    /// </summary>
    public static bool TryParseEcho(string? to, int? hopLimit, int? timeoutMs, int? size, byte defaultHopLimit, out EchoParameters echo, [NotNullWhen(false)] out string? error)
    {
        echo = default;
        if (!RouterAddress.TryParse(to, out var destination))
        {
            error = $"'{to}' is not a router address (64 hex digits, optionally grouped with '-')";
            return false;
        }

        var hops = hopLimit ?? defaultHopLimit;
        if (hops is < 1 or > 255 || timeoutMs is < 1 or > 60_000 || size is < 0 or > 60_000)
        {
            error = "hopLimit must be 1-255, timeoutMs 1-60000 and size 0-60000";
            return false;
        }

        echo = new EchoParameters(destination, (byte)hops, size ?? 0, TimeSpan.FromMilliseconds(timeoutMs ?? 2000));
        error = null;
        return true;
    }
}
