using System.Globalization;
using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// The inet netmod's settings, read from its configuration section (<c>Netmods:inet</c>).
/// <see cref="Parse"/> is the one reader: <see cref="InetFactory.Validate"/> reports what it
/// collects and <see cref="InetFactory.Create"/> uses what it returns, so both agree.
/// </summary>
/// <remarks>
/// The section is read by hand rather than with the configuration binder so the plugin
/// carries no dependency beyond the SDK, and so every problem, unknown keys included, is
/// reported at once in words that name the key.
/// </remarks>
internal sealed record InetOptions
{
    /// <summary>The port in the default listen address.</summary>
    public const int DefaultPort = 5860;

    private static readonly string[] KnownKeys =
    [
        "Enabled", "Listen", "Peers", "MaxFrameSize", "KeepaliveSeconds", "DeadPeerTimeoutSeconds",
        "HandshakeTimeoutSeconds", "ReconnectMinSeconds", "ReconnectMaxSeconds", "SendQueueFrames",
    ];

    // A day: long enough for any sane timer, short enough that TimeSpan arithmetic cannot overflow.
    private const double MaxSeconds = 86_400;

    /// <summary>Addresses to accept connections on; empty for a router that only dials.</summary>
    public IReadOnlyList<HostEndpoint> Listen { get; init; } = [new HostEndpoint("::", DefaultPort)];

    /// <summary>Peers to dial and keep dialling.</summary>
    public IReadOnlyList<HostEndpoint> Peers { get; init; } = [];

    /// <summary>Largest frame accepted and sent, in bytes.</summary>
    public int MaxFrameSize { get; init; } = 131_072;

    /// <summary>Send a keepalive after this long without sending anything.</summary>
    public TimeSpan Keepalive { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Close a link after this long without receiving anything.</summary>
    public TimeSpan DeadPeerTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Time allowed for a connect and for the hello exchange.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First reconnect delay.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Frames queued per connection before senders wait.</summary>
    public int SendQueueFrames { get; init; } = 256;

    /// <summary>
    /// Reads <paramref name="section"/>. Returns the options when the section is valid;
    /// otherwise returns null and adds every problem found to <paramref name="errors"/>,
    /// each a sentence naming the key. Never throws for bad input.
    /// </summary>
    public static InetOptions? Parse(IConfiguration section, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var path = section is IConfigurationSection named ? named.Path : "Netmods:inet";
        var before = errors.Count;
        var defaults = new InetOptions();

        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            present.Add(child.Key);
            if (Array.FindIndex(KnownKeys, k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                errors.Add($"{path}:{child.Key}: unknown setting{Suggest(child.Key)}; the inet settings are {string.Join(", ", KnownKeys)}.");
            }
        }

        var listen = present.Contains("Listen")
            ? ReadEndpoints(section.GetSection("Listen"), path, "Listen", isListen: true, errors)
            : defaults.Listen;
        var peers = ReadEndpoints(section.GetSection("Peers"), path, "Peers", isListen: false, errors);
        var maxFrameSize = ReadInt(section, path, "MaxFrameSize", defaults.MaxFrameSize, Handshake.MinimumFrameSize, 16 * 1024 * 1024, errors);
        var sendQueue = ReadInt(section, path, "SendQueueFrames", defaults.SendQueueFrames, 1, 65_536, errors);
        var keepalive = ReadSeconds(section, path, "KeepaliveSeconds", defaults.Keepalive, errors);
        var dead = ReadSeconds(section, path, "DeadPeerTimeoutSeconds", defaults.DeadPeerTimeout, errors);
        var handshake = ReadSeconds(section, path, "HandshakeTimeoutSeconds", defaults.HandshakeTimeout, errors);
        var reconnectMin = ReadSeconds(section, path, "ReconnectMinSeconds", defaults.ReconnectMin, errors);
        var reconnectMax = ReadSeconds(section, path, "ReconnectMaxSeconds", defaults.ReconnectMax, errors);

        if (keepalive is { } k && dead is { } d && d <= k)
        {
            errors.Add($"{path}:DeadPeerTimeoutSeconds: {Seconds(d)} must be greater than KeepaliveSeconds ({Seconds(k)}), or every quiet link would be declared dead.");
        }

        if (reconnectMin is { } rmin && reconnectMax is { } rmax && rmax < rmin)
        {
            errors.Add($"{path}:ReconnectMaxSeconds: {Seconds(rmax)} must be at least ReconnectMinSeconds ({Seconds(rmin)}).");
        }

        if (errors.Count != before)
        {
            return null;
        }

        return new InetOptions
        {
            Listen = listen!,
            Peers = peers!,
            MaxFrameSize = maxFrameSize!.Value,
            SendQueueFrames = sendQueue!.Value,
            Keepalive = keepalive!.Value,
            DeadPeerTimeout = dead!.Value,
            HandshakeTimeout = handshake!.Value,
            ReconnectMin = reconnectMin!.Value,
            ReconnectMax = reconnectMax!.Value,
        };
    }

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
                errors.Add($"{where}: expected an address such as {(isListen ? "[::]:5860" : "host:5860")}, not a nested section.");
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

                // A repeated peer is harmless: it is dialled once.
                continue;
            }

            result.Add(endpoint);
        }

        return ok ? result : null;
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

    /// <summary>The endpoint to bind for a listen address.</summary>
    public static IPEndPoint ToIPEndPoint(HostEndpoint endpoint) =>
        new(endpoint.Address ?? throw new ArgumentException($"'{endpoint}' is not an IP address.", nameof(endpoint)), endpoint.Port);
}
