using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Router.Sdk;

/// <summary>
/// Reads a netmod's configuration section (<c>Netmods:&lt;name&gt;</c>) key by key and collects
/// every problem it finds, so <see cref="INetmodFactory.Validate"/> can report them all at once
/// and <see cref="INetmodFactory.Create"/> can use the same reader for the values.
/// </summary>
/// <remarks>
/// <para>Each problem is a complete sentence that starts with <c>Path:Key</c> (e.g.
/// <c>Netmods:udp:MaxFrameSize: 'x' is not a whole number.</c>), in the wording the built-in
/// netmods use, so every netmod's messages read alike.</para>
/// <para>Every <c>Read*</c> method returns the value, the fallback when the key is absent, or
/// null after recording a problem; it never throws for bad input. A netmod reads every key,
/// then checks <see cref="HasProblems"/> before using the values.</para>
/// <para>The reader depends on nothing but the configuration abstractions, so a netmod needs
/// no configuration binder. An instance reads one section once and is not thread-safe.</para>
/// </remarks>
public sealed class NetmodConfigReader
{
    /// <summary>The largest number of seconds <see cref="ReadSeconds"/> accepts by default: a day,
    /// long enough for any sane timer and short enough that <see cref="TimeSpan"/> arithmetic cannot overflow.</summary>
    public const double DefaultMaxSeconds = 86_400;

    /// <summary>The smallest number of seconds <see cref="ReadSeconds"/> accepts by default: a millisecond.</summary>
    public const double DefaultMinSeconds = 0.001;

    private readonly IConfiguration _section;
    private readonly string[] _knownKeys;
    private readonly HashSet<string> _present = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _problems = [];

    /// <summary>
    /// Starts reading <paramref name="section"/> and at once records a problem for every key in
    /// it that is not one of <paramref name="knownKeys"/> (compared ignoring case), with a
    /// "did you mean" suggestion when a known key is close.
    /// </summary>
    /// <param name="section">The netmod's section; its path, when it has one, prefixes every problem.</param>
    /// <param name="netmodName">The netmod's name: names it in messages, and gives the path
    /// <c>Netmods:&lt;name&gt;</c> when <paramref name="section"/> is not an <see cref="IConfigurationSection"/>.</param>
    /// <param name="knownKeys">Every key the netmod reads, in the order to list them in messages.</param>
    public NetmodConfigReader(IConfiguration section, string netmodName, IEnumerable<string> knownKeys)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentException.ThrowIfNullOrWhiteSpace(netmodName);
        ArgumentNullException.ThrowIfNull(knownKeys);
        _section = section;
        _knownKeys = [.. knownKeys];
        Path = (section as IConfigurationSection)?.Path ?? $"Netmods:{netmodName}";

        foreach (var child in section.GetChildren())
        {
            _present.Add(child.Key);
            if (Array.FindIndex(_knownKeys, k => string.Equals(k, child.Key, StringComparison.OrdinalIgnoreCase)) < 0)
            {
                _problems.Add($"{Path}:{child.Key}: unknown setting{Suggest(child.Key)}; the {netmodName} settings are {string.Join(", ", _knownKeys)}.");
            }
        }
    }

    /// <summary>The section's configuration path, e.g. <c>Netmods:inet</c>.</summary>
    public string Path { get; }

    /// <summary>Every problem recorded so far, in the order found.</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>Whether any problem has been recorded.</summary>
    public bool HasProblems => _problems.Count > 0;

    /// <summary>Whether <paramref name="key"/> appears in the section, even with an empty value.</summary>
    /// <param name="key">The key, compared ignoring case.</param>
    public bool IsPresent(string key) => _present.Contains(key);

    /// <summary>
    /// Records a problem that no single <c>Read*</c> call can see, such as one setting that
    /// must exceed another. The message becomes <c>Path:Key: problem</c>.
    /// </summary>
    /// <param name="key">The key the problem is about.</param>
    /// <param name="problem">What is wrong: the rest of a sentence, ending with a full stop.</param>
    public void Report(string key, string problem) => _problems.Add($"{Path}:{key}: {problem}");

    /// <summary>
    /// Reads a whole number in <paramref name="min"/>..<paramref name="max"/>. Returns
    /// <paramref name="fallback"/> when the key is absent, and null (with a problem recorded)
    /// when it is not a whole number, out of range, or a nested section.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="fallback">The value when the key is absent.</param>
    /// <param name="min">The smallest value allowed.</param>
    /// <param name="max">The largest value allowed.</param>
    public int? ReadInt(string key, int fallback, int min, int max)
    {
        var text = _section[key];
        if (text is null)
        {
            return HasNestedSection(key) ? null : fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            Report(key, $"'{text}' is not a whole number.");
            return null;
        }

        if (value < min || value > max)
        {
            Report(key, $"{value} is outside the allowed range {min}..{max}.");
            return null;
        }

        return value;
    }

    /// <summary>
    /// Reads a duration written as a number of seconds, fractions allowed (<c>0.25</c>), in
    /// <paramref name="minSeconds"/>..<paramref name="maxSeconds"/>. Returns
    /// <paramref name="fallback"/> when the key is absent, and null (with a problem recorded)
    /// when it is not a number, out of range, or a nested section.
    /// </summary>
    /// <param name="key">The key; by convention it ends in <c>Seconds</c>.</param>
    /// <param name="fallback">The value when the key is absent.</param>
    /// <param name="minSeconds">The fewest seconds allowed.</param>
    /// <param name="maxSeconds">The most seconds allowed.</param>
    public TimeSpan? ReadSeconds(string key, TimeSpan fallback, double minSeconds = DefaultMinSeconds, double maxSeconds = DefaultMaxSeconds)
    {
        var text = _section[key];
        if (text is null)
        {
            return HasNestedSection(key) ? null : fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || double.IsNaN(seconds))
        {
            Report(key, $"'{text}' is not a number of seconds.");
            return null;
        }

        if (seconds < minSeconds || seconds > maxSeconds)
        {
            Report(key, $"{text} is outside the allowed range {minSeconds.ToString(CultureInfo.InvariantCulture)}..{maxSeconds.ToString(CultureInfo.InvariantCulture)} seconds.");
            return null;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>
    /// Reads <c>true</c> or <c>false</c> (any case). Returns <paramref name="fallback"/> when the
    /// key is absent, and null (with a problem recorded) for anything else or a nested section.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="fallback">The value when the key is absent.</param>
    public bool? ReadBool(string key, bool fallback)
    {
        var text = _section[key];
        if (text is null)
        {
            return HasNestedSection(key) ? null : fallback;
        }

        if (!bool.TryParse(text.Trim(), out var value))
        {
            Report(key, $"'{text}' is not true or false.");
            return null;
        }

        return value;
    }

    /// <summary>
    /// Reads a list of non-blank strings, each trimmed; empty when the key is absent. A single
    /// string where the list belongs is reported (a likely slip for a one-element list), as is
    /// a blank or nested entry; then the result is null.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="itemName">What one entry is, for messages, e.g. <c>interface name</c>.</param>
    /// <param name="example">An example entry, for messages, e.g. <c>eth0</c>.</param>
    public IReadOnlyList<string>? ReadStrings(string key, string itemName, string example)
    {
        if (ListEntries(key, $"{itemName}s") is not { } children)
        {
            return null;
        }

        var result = new List<string>();
        var ok = true;
        foreach (var child in children)
        {
            if (string.IsNullOrWhiteSpace(child.Value))
            {
                Report($"{key}[{child.Key}]", $"expected {Article(itemName)} {itemName} such as \"{example}\".");
                ok = false;
                continue;
            }

            result.Add(child.Value.Trim());
        }

        return ok ? result : null;
    }

    /// <summary>
    /// Reads a list of addresses to listen on, each an IP literal with a port
    /// (<c>0.0.0.0:5860</c>, <c>[::]:5860</c>); port 0 asks for any free port and may repeat,
    /// any other address listed twice is reported. Returns <paramref name="fallback"/> when the
    /// key is absent and an empty list when it is present but empty; null after a problem.
    /// </summary>
    /// <param name="key">The key, e.g. <c>Listen</c>.</param>
    /// <param name="fallback">The addresses when the key is absent.</param>
    /// <param name="examplePort">The port to show in messages, usually the netmod's default.</param>
    public IReadOnlyList<HostEndpoint>? ReadListenEndpoints(string key, IReadOnlyList<HostEndpoint> fallback, int examplePort) =>
        IsPresent(key) ? ReadEndpoints(key, isListen: true, examplePort) : fallback;

    /// <summary>
    /// Reads a list of peers, each <c>host:port</c> or <c>[v6]:port</c> with a port from 1 to
    /// 65535, where host may be a DNS name. A peer listed twice is kept once. Returns an empty
    /// list when the key is absent; null after a problem.
    /// </summary>
    /// <param name="key">The key, e.g. <c>Peers</c>.</param>
    /// <param name="examplePort">The port to show in messages, usually the netmod's default.</param>
    public IReadOnlyList<HostEndpoint>? ReadPeerEndpoints(string key, int examplePort) =>
        ReadEndpoints(key, isListen: false, examplePort);

    /// <summary>
    /// Whether <paramref name="key"/> holds a nested section where a single value belongs;
    /// records a problem when it does. The <c>Read*</c> methods for single values call this
    /// already; a netmod calls it for single values it reads itself.
    /// </summary>
    /// <param name="key">The key.</param>
    public bool HasNestedSection(string key)
    {
        if (!_section.GetSection(key).GetChildren().Any())
        {
            return false;
        }

        Report(key, "expected a single value, not a nested section.");
        return true;
    }

    /// <summary>Formats a duration as seconds for messages: <c>0.25</c>, <c>5</c>.</summary>
    /// <param name="value">The duration.</param>
    public static string FormatSeconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    private List<HostEndpoint>? ReadEndpoints(string key, bool isListen, int examplePort)
    {
        if (ListEntries(key, "addresses") is not { } children)
        {
            return null;
        }

        var result = new List<HostEndpoint>();
        var ok = true;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var child in children)
        {
            var where = $"{key}[{child.Key}]";
            if (child.Value is null)
            {
                Report(where, $"expected an address such as {(isListen ? "[::]" : "host")}:{examplePort.ToString(CultureInfo.InvariantCulture)}, not a nested section.");
                ok = false;
                continue;
            }

            if (!HostEndpoint.TryParse(child.Value, allowPortZero: isListen, out var endpoint, out var error))
            {
                Report(where, $"{error}.");
                ok = false;
                continue;
            }

            if (isListen && endpoint.Address is null)
            {
                Report(where, $"'{endpoint.Host}' is not an IP address; listen addresses are IP literals such as 0.0.0.0:{endpoint.Port} or [::]:{endpoint.Port}.");
                ok = false;
                continue;
            }

            // Port 0 asks for a fresh port each time, so it may repeat.
            if (!seen.Add(endpoint.ToString()) && !(isListen && endpoint.Port == 0))
            {
                if (isListen)
                {
                    Report(where, $"'{endpoint}' is listed twice.");
                    ok = false;
                }

                // A repeated peer is harmless: it is reached once.
                continue;
            }

            result.Add(endpoint);
        }

        return ok ? result : null;
    }

    // The entries of the list at key, or null after reporting a single value where the list
    // belongs: a bare string is a likely slip for a one-element list, and saying so beats guessing.
    private List<IConfigurationSection>? ListEntries(string key, string itemsName)
    {
        var list = _section.GetSection(key);
        var children = list.GetChildren().ToList();
        if (children.Count == 0 && !string.IsNullOrWhiteSpace(list.Value))
        {
            Report(key, $"expected a list of {itemsName} such as [\"{list.Value}\"], not a single value.");
            return null;
        }

        return children;
    }

    private static string Article(string noun) => noun.Length > 0 && "aeiouAEIOU".Contains(noun[0], StringComparison.Ordinal) ? "an" : "a";

    private string Suggest(string key)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var known in _knownKeys)
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
