using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>
/// The udp netmod's settings, read from its configuration section (<c>Netmods:udp</c>).
/// <see cref="Parse"/> is the one reader: <see cref="UdpFactory.Validate"/> reports what it
/// collects and <see cref="UdpFactory.Create"/> uses what it returns, so both agree.
/// </summary>
/// <remarks>
/// The section is read by hand rather than with the configuration binder so the plugin
/// carries no dependency beyond the SDK, and so every problem, unknown keys included, is
/// reported at once in words that name the key. Every key is described in README.md.
/// </remarks>
internal sealed record UdpOptions
{
    /// <summary>The port in the default listen address.</summary>
    public const int DefaultPort = 5861;

    /// <summary>The port beacons are sent to and heard on.</summary>
    public const int DefaultDiscoveryPort = 5862;

    private static readonly string[] KnownKeys =
    [
        "Enabled", "Listen", "Peers", "Discovery", "DiscoveryIntervalSeconds", "DiscoveryPort", "DiscoveryInterfaces",
        "MaxFrameSize", "KeepaliveSeconds", "DeadPeerTimeoutSeconds", "ReconnectMinSeconds", "ReconnectMaxSeconds",
        "SocketBufferBytes",
    ];

    // A day: long enough for any sane timer, short enough that TimeSpan arithmetic cannot overflow.
    private const double MaxSeconds = 86_400;

    /// <summary>Sockets to bind. Empty means one dual-stack socket on a free port, to peer outwards only.</summary>
    public IReadOnlyList<HostEndpoint> Listen { get; init; } = [new HostEndpoint("::", DefaultPort)];

    /// <summary>Peers to hello and keep linked.</summary>
    public IReadOnlyList<HostEndpoint> Peers { get; init; } = [];

    /// <summary>Whether to send and hear LAN discovery beacons.</summary>
    public bool Discovery { get; init; } = true;

    /// <summary>Time between beacons (and interface re-scans).</summary>
    public TimeSpan DiscoveryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The UDP port beacons go to; the same on every router of a LAN.</summary>
    public int DiscoveryPort { get; init; } = DefaultDiscoveryPort;

    /// <summary>Interface names to beacon on; empty means every eligible interface.</summary>
    public IReadOnlyList<string> DiscoveryInterfaces { get; init; } = [];

    /// <summary>Largest frame accepted and sent, in bytes (without the type byte).</summary>
    public int MaxFrameSize { get; init; } = 1400;

    /// <summary>Send a keepalive on a path after this long without sending anything on it.</summary>
    public TimeSpan Keepalive { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Drop a path (and the neighbour with its last path) after this long without hearing from it.</summary>
    public TimeSpan DeadPeerTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>First delay between hellos to a configured peer that has not answered.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Longest delay between hellos to a configured peer that has not answered.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>SO_RCVBUF and SO_SNDBUF to ask for; 0 leaves the kernel's defaults.</summary>
    public int SocketBufferBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Reads <paramref name="section"/>. Returns the options when the section is valid;
    /// otherwise returns null and adds every problem found to <paramref name="errors"/>,
    /// each a sentence naming the key. Never throws for bad input.
    /// </summary>
    public static UdpOptions? Parse(IConfiguration section, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var path = section is IConfigurationSection named ? named.Path : "Netmods:udp";
        var before = errors.Count;
        var defaults = new UdpOptions();

        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            present.Add(child.Key);
            if (Array.FindIndex(KnownKeys, k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                errors.Add($"{path}:{child.Key}: unknown setting{Suggest(child.Key)}; the udp settings are {string.Join(", ", KnownKeys)}.");
            }
        }

        // The router reads Enabled itself; checking it here means --check reports a typo in it too.
        ReadBool(section, path, "Enabled", true, errors);
        var listen = present.Contains("Listen")
            ? ReadEndpoints(section.GetSection("Listen"), path, "Listen", isListen: true, errors)
            : defaults.Listen;
        var peers = ReadEndpoints(section.GetSection("Peers"), path, "Peers", isListen: false, errors);
        var discovery = ReadBool(section, path, "Discovery", defaults.Discovery, errors);
        var interval = ReadSeconds(section, path, "DiscoveryIntervalSeconds", defaults.DiscoveryInterval, errors);
        var discoveryPort = ReadInt(section, path, "DiscoveryPort", defaults.DiscoveryPort, 1, 65535, errors);
        var interfaces = ReadNames(section.GetSection("DiscoveryInterfaces"), path, "DiscoveryInterfaces", errors);
        var maxFrameSize = ReadInt(section, path, "MaxFrameSize", defaults.MaxFrameSize, Wire.MinimumFrameSize, Wire.MaximumFrameSize, errors);
        var keepalive = ReadSeconds(section, path, "KeepaliveSeconds", defaults.Keepalive, errors);
        var dead = ReadSeconds(section, path, "DeadPeerTimeoutSeconds", defaults.DeadPeerTimeout, errors);
        var reconnectMin = ReadSeconds(section, path, "ReconnectMinSeconds", defaults.ReconnectMin, errors);
        var reconnectMax = ReadSeconds(section, path, "ReconnectMaxSeconds", defaults.ReconnectMax, errors);
        var socketBuffer = ReadInt(section, path, "SocketBufferBytes", defaults.SocketBufferBytes, 0, 1 << 30, errors);

        if (socketBuffer is > 0 and < 65536)
        {
            errors.Add($"{path}:SocketBufferBytes: {socketBuffer} is below 65536; use 0 to keep the kernel's default buffers.");
        }

        if (keepalive is { } k && dead is { } d && d <= k)
        {
            errors.Add($"{path}:DeadPeerTimeoutSeconds: {Seconds(d)} must be greater than KeepaliveSeconds ({Seconds(k)}), or every quiet link would be declared dead.");
        }

        if (reconnectMin is { } rmin && reconnectMax is { } rmax && rmax < rmin)
        {
            errors.Add($"{path}:ReconnectMaxSeconds: {Seconds(rmax)} must be at least ReconnectMinSeconds ({Seconds(rmin)}).");
        }

        if (listen is not null && discoveryPort is { } dp && listen.Any(l => l.Port == dp))
        {
            errors.Add($"{path}:DiscoveryPort: {dp} is also a Listen port; beacons and links need different ports.");
        }

        if (errors.Count != before)
        {
            return null;
        }

        return new UdpOptions
        {
            Listen = listen!,
            Peers = peers!,
            Discovery = discovery!.Value,
            DiscoveryInterval = interval!.Value,
            DiscoveryPort = discoveryPort!.Value,
            DiscoveryInterfaces = interfaces!,
            MaxFrameSize = maxFrameSize!.Value,
            Keepalive = keepalive!.Value,
            DeadPeerTimeout = dead!.Value,
            ReconnectMin = reconnectMin!.Value,
            ReconnectMax = reconnectMax!.Value,
            SocketBufferBytes = socketBuffer!.Value,
        };
    }

    /// <summary>The endpoint to bind for a listen address.</summary>
    public static IPEndPoint ToIPEndPoint(HostEndpoint endpoint) =>
        new(endpoint.Address ?? throw new ArgumentException($"'{endpoint}' is not an IP address.", nameof(endpoint)), endpoint.Port);

    private static List<HostEndpoint>? ReadEndpoints(IConfigurationSection list, string path, string key, bool isListen, ICollection<string> errors)
    {
        var result = new List<HostEndpoint>();
        var children = list.GetChildren().ToList();
        if (children.Count == 0 && !string.IsNullOrWhiteSpace(list.Value))
        {
            // A bare string is a likely slip for a one-element list; saying so beats guessing.
            errors.Add($"{path}:{key}: expected a list of addresses such as [\"{list.Value}\"], not a single value.");
            return null;
        }

        var ok = true;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in children)
        {
            var where = $"{path}:{key}[{child.Key}]";
            if (child.Value is null)
            {
                errors.Add($"{where}: expected an address such as {(isListen ? "[::]:5861" : "host:5861")}, not a nested section.");
                ok = false;
                continue;
            }

            if (!HostEndpoint.TryParse(child.Value, allowPortZero: isListen, out var endpoint, out var error))
            {
                errors.Add($"{where}: {error}.");
                ok = false;
                continue;
            }

            if (isListen && endpoint.Address is null)
            {
                errors.Add($"{where}: '{endpoint.Host}' is not an IP address; listen addresses are IP literals such as 0.0.0.0:{endpoint.Port} or [::]:{endpoint.Port}.");
                ok = false;
                continue;
            }

            // Port 0 asks for a fresh port each time, so it may repeat.
            if (!seen.Add(endpoint.ToString()) && !(isListen && endpoint.Port == 0))
            {
                if (isListen)
                {
                    errors.Add($"{where}: '{endpoint}' is listed twice.");
                    ok = false;
                }

                // A repeated peer is harmless: it is greeted once.
                continue;
            }

            result.Add(endpoint);
        }

        return ok ? result : null;
    }

    private static List<string>? ReadNames(IConfigurationSection list, string path, string key, ICollection<string> errors)
    {
        var children = list.GetChildren().ToList();
        if (children.Count == 0 && !string.IsNullOrWhiteSpace(list.Value))
        {
            errors.Add($"{path}:{key}: expected a list of interface names such as [\"{list.Value}\"], not a single value.");
            return null;
        }

        var result = new List<string>();
        var ok = true;
        foreach (var child in children)
        {
            if (string.IsNullOrWhiteSpace(child.Value))
            {
                errors.Add($"{path}:{key}[{child.Key}]: expected an interface name such as \"eth0\".");
                ok = false;
                continue;
            }

            result.Add(child.Value.Trim());
        }

        return ok ? result : null;
    }

    private static bool? ReadBool(IConfiguration section, string path, string key, bool fallback, ICollection<string> errors)
    {
        var text = section[key];
        if (text is null)
        {
            return HasNestedSection(section, key, path, errors) ? null : fallback;
        }

        if (!bool.TryParse(text.Trim(), out var value))
        {
            errors.Add($"{path}:{key}: '{text}' is not true or false.");
            return null;
        }

        return value;
    }

    private static int? ReadInt(IConfiguration section, string path, string key, int fallback, int min, int max, ICollection<string> errors)
    {
        var text = section[key];
        if (text is null)
        {
            return HasNestedSection(section, key, path, errors) ? null : fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            errors.Add($"{path}:{key}: '{text}' is not a whole number.");
            return null;
        }

        if (value < min || value > max)
        {
            errors.Add($"{path}:{key}: {value} is outside the allowed range {min}..{max}.");
            return null;
        }

        return value;
    }

    private static TimeSpan? ReadSeconds(IConfiguration section, string path, string key, TimeSpan fallback, ICollection<string> errors)
    {
        var text = section[key];
        if (text is null)
        {
            return HasNestedSection(section, key, path, errors) ? null : fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || double.IsNaN(seconds))
        {
            errors.Add($"{path}:{key}: '{text}' is not a number of seconds.");
            return null;
        }

        if (seconds < 0.001 || seconds > MaxSeconds)
        {
            errors.Add($"{path}:{key}: {text} is outside the allowed range 0.001..{MaxSeconds.ToString(CultureInfo.InvariantCulture)} seconds.");
            return null;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static bool HasNestedSection(IConfiguration section, string key, string path, ICollection<string> errors)
    {
        if (!section.GetSection(key).GetChildren().Any())
        {
            return false;
        }

        errors.Add($"{path}:{key}: expected a single value, not a nested section.");
        return true;
    }

    private static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Suggest(string key)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var known in KnownKeys)
        {
            var distance = EditDistance(key.ToUpperInvariant(), known.ToUpperInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (known, distance);
            }
        }

        return best is not null && bestDistance <= Math.Max(2, key.Length / 4) ? $" (did you mean '{best}'?)" : string.Empty;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
