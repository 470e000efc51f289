using System.Net;
using Microsoft.Extensions.Configuration;

namespace Router.Dashboard;

/// <summary>
/// <c>Router:Dashboard</c>: the read-only web dashboard on a TCP address of its own
/// (docs/configuration.md). Loopback by default, so only this machine sees the mesh's shape.
/// </summary>
internal sealed record DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>The default port: clear of the netmods' defaults (inet 5860, udp 5861).</summary>
    public const int DefaultPort = 5880;

    private static readonly string[] KnownKeys = [nameof(Enabled), nameof(Listen), nameof(AllowedHosts)];

    /// <summary>Whether the router serves the dashboard at all.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The address and port the dashboard listens on.</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, DefaultPort);

    /// <summary>
    /// Host names (besides <c>localhost</c> and the listen address) a request's Host header may
    /// carry; anything else is refused, so a web page whose name was re-pointed at this machine
    /// (DNS rebinding) cannot read the dashboard.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Reads and checks <c>Router:Dashboard</c>, adding every problem to <paramref name="problems"/>.</summary>
    public static DashboardOptions Read(IConfigurationSection section, List<string> problems)
    {
        var defaults = new DashboardOptions();
        foreach (var child in section.GetChildren())
        {
            if (!KnownKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{child.Path}: unknown key (known: {string.Join(", ", KnownKeys)}).");
            }
        }

        var enabled = defaults.Enabled;
        if (section[nameof(Enabled)] is { } enabledText && !bool.TryParse(enabledText, out enabled))
        {
            problems.Add($"{section.Path}:{nameof(Enabled)}: '{enabledText}' is not true or false.");
            enabled = defaults.Enabled;
        }

        var listen = defaults.Listen;
        if (section[nameof(Listen)] is { } listenText && !TryParseListen(listenText, out listen))
        {
            problems.Add($"{section.Path}:{nameof(Listen)}: '{listenText}' is not an IP address and port from 1 to 65535, e.g. 127.0.0.1:{DefaultPort} or [::1]:{DefaultPort}.");
            listen = defaults.Listen;
        }

        var hosts = new List<string>();
        var allowed = section.GetSection(nameof(AllowedHosts));
        if (allowed.Value is { Length: > 0 } single)
        {
            problems.Add($"{allowed.Path}: must be a list of host names, not '{single}'.");
        }

        foreach (var entry in allowed.GetChildren())
        {
            if (entry.Value is { Length: > 0 } host && Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6)
            {
                hosts.Add(host);
            }
            else
            {
                problems.Add($"{entry.Path}: '{entry.Value}' is not a host name (a name like router.example.org, without scheme or port).");
            }
        }

        return new DashboardOptions { Enabled = enabled, Listen = listen, AllowedHosts = hosts };
    }

    private static bool TryParseListen(string text, out IPEndPoint endpoint)
    {
        // IPEndPoint.TryParse accepts a bare address (port 0): the port must be written out.
        endpoint = null!;
        var hasPort = text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Count(c => c == ':') == 1;
        if (!hasPort || !IPEndPoint.TryParse(text, out var parsed) || parsed.Port is < 1 or > 65535)
        {
            return false;
        }

        endpoint = parsed;
        return true;
    }
}
