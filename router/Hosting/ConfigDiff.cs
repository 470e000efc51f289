using Microsoft.Extensions.Configuration;
using Router.Configuration;

namespace Router.Hosting;

/// <summary>What a reload does to one netmod.</summary>
internal enum NetmodChangeKind
{
    /// <summary>Newly enabled (or changed while not running): start it.</summary>
    Start,

    /// <summary>Disabled or its section removed: stop it and unload its plugin.</summary>
    Stop,

    /// <summary>Its section changed beyond its peers (or it had failed): stop it and start it again.</summary>
    Restart,

    /// <summary>Only its peers changed: dial the added ones, drop the removed ones; its other links stay up.</summary>
    Peers,
}

/// <summary>One netmod's part of a reload.</summary>
/// <param name="ChangedKeys">For a restart, the keys of its section that changed (relative to the section).</param>
internal sealed record NetmodChange(string Name, NetmodChangeKind Kind, IReadOnlyList<string> AddedPeers, IReadOnlyList<string> RemovedPeers, IReadOnlyList<string> ChangedKeys);

/// <summary>A netmod as it runs now, for the diff: the settings it runs with, and whether it failed.</summary>
internal readonly record struct RunningNetmod(IReadOnlyDictionary<string, string> Settings, bool Failed);

/// <summary>Everything a reload changes, and the keys it cannot change.</summary>
/// <param name="NeedsRestart">Full key paths that changed but are read only at start-up.</param>
/// <param name="LoggingChanged">The <c>Logging</c> section changed (applied through the configuration's reload token).</param>
internal sealed record ConfigChanges(IReadOnlyList<NetmodChange> Netmods, IReadOnlyList<string> NeedsRestart, bool LoggingChanged)
{
    public bool IsEmpty => Netmods.Count == 0 && NeedsRestart.Count == 0 && !LoggingChanged;
}

/// <summary>
/// Compares the configuration in force with a new one (both already valid) and says what a
/// reload must do. Pure: no I/O, no state, so every rule is unit-tested.
/// </summary>
/// <remarks>
/// Enabling and disabling follow the difference between the two files, so a netmod loaded or
/// unloaded by hand (<c>router plugins</c>) keeps its state through a reload that does not
/// touch its section. A running netmod's section is compared with the settings it actually
/// runs with: when only <c>Peers</c> differ it gets the peer difference, otherwise it restarts.
/// </remarks>
internal static class ConfigDiff
{
    private const string PeersKey = "Peers";

    /// <summary>
    /// A netmod's settings as the netmod sees them (<see cref="RouterConfiguration.NetmodSettings"/>),
    /// flattened to keys relative to its section; keys without a value (empty lists, parents) are left
    /// out, so <c>"Peers": []</c> and no <c>Peers</c> compare equal. Keys compare case-insensitively.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Settings(RouterConfiguration configuration, string name) =>
        Flatten(configuration.NetmodSettings(name));

    /// <param name="current">The configuration in force (the last one applied).</param>
    /// <param name="next">The new one.</param>
    /// <param name="running">The netmods running now, with their settings.</param>
    /// <param name="startedWith">
    /// The configuration the router started with, which start-up-only keys are compared against,
    /// so a change that needs a restart is reported at every reload until the router restarts
    /// (default: <paramref name="current"/>).
    /// </param>
    public static ConfigChanges Compute(RouterConfiguration current, RouterConfiguration next, IReadOnlyDictionary<string, RunningNetmod> running, RouterConfiguration? startedWith = null)
    {
        var names = current.ConfiguredNetmods()
            .Concat(next.ConfiguredNetmods())
            .Concat(running.Keys)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.Ordinal)
            .ToList();
        var changes = new List<NetmodChange>();
        foreach (var name in names)
        {
            if (Decide(current, next, running, name) is { } change)
            {
                changes.Add(change);
            }
        }

        return new ConfigChanges(changes, NeedsRestart(startedWith ?? current, next, names), !SameValues(Flatten(current.Root.GetSection("Logging")), Flatten(next.Root.GetSection("Logging"))));
    }

    private static NetmodChange? Decide(RouterConfiguration current, RouterConfiguration next, IReadOnlyDictionary<string, RunningNetmod> running, string name)
    {
        var wasEnabled = current.IsEnabled(name, []);
        var enabled = next.IsEnabled(name, []);
        var settings = Settings(next, name);
        var isRunning = running.TryGetValue(name, out var now);
        if (!enabled)
        {
            // A netmod loaded by hand while disabled in the file stays until the file disables it anew.
            return wasEnabled && isRunning ? Change(name, NetmodChangeKind.Stop) : null;
        }

        if (!isRunning)
        {
            // Not running although enabled before and unchanged: unloaded by hand; leave it so.
            return !wasEnabled || !SameValues(Settings(current, name), settings) ? Change(name, NetmodChangeKind.Start) : null;
        }

        if (now.Failed)
        {
            return Change(name, NetmodChangeKind.Restart, changed: ["(it had failed; trying again)"]);
        }

        var (others, peers) = SplitPeers(now.Settings);
        var (nextOthers, nextPeers) = SplitPeers(settings);
        if (!SameValues(others, nextOthers))
        {
            var changed = others.Keys.Concat(nextOthers.Keys)
                .Distinct(StringComparer.OrdinalIgnoreCase)
                .Where(k => !others.TryGetValue(k, out var a) || !nextOthers.TryGetValue(k, out var b) || a != b)
                .Order(StringComparer.OrdinalIgnoreCase)
                .ToList();
            return Change(name, NetmodChangeKind.Restart, changed: changed);
        }

        var added = nextPeers.Where(p => !peers.Contains(p, StringComparer.OrdinalIgnoreCase)).ToList();
        var removed = peers.Where(p => !nextPeers.Contains(p, StringComparer.OrdinalIgnoreCase)).ToList();
        return added.Count == 0 && removed.Count == 0 ? null : new NetmodChange(name, NetmodChangeKind.Peers, added, removed, []);
    }

    private static NetmodChange Change(string name, NetmodChangeKind kind, IReadOnlyList<string>? changed = null) =>
        new(name, kind, [], [], changed ?? []);

    /// <summary>
    /// Keys read only at start-up that differ: every <c>Router</c> key, and the peer policy keys
    /// the core reads from a netmod's section (<see cref="RouterConfiguration.CoreNetmodKeys"/> but <c>Enabled</c>).
    /// </summary>
    private static List<string> NeedsRestart(RouterConfiguration current, RouterConfiguration next, IEnumerable<string> netmods)
    {
        var result = new List<string>();
        AddChangedChildren(current.Root.GetSection(RouterOptions.SectionName), next.Root.GetSection(RouterOptions.SectionName), null, result);
        foreach (var name in netmods)
        {
            AddChangedChildren(current.NetmodSection(name), next.NetmodSection(name), key => !key.Equals("Enabled", StringComparison.OrdinalIgnoreCase) && RouterConfiguration.CoreNetmodKeys.Contains(key, StringComparer.OrdinalIgnoreCase), result);
        }

        return result;
    }

    private static void AddChangedChildren(IConfigurationSection before, IConfigurationSection after, Func<string, bool>? include, List<string> result)
    {
        var keys = before.GetChildren().Concat(after.GetChildren())
            .Select(c => c.Key)
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Where(k => include?.Invoke(k) ?? true)
            .Order(StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            if (!SameValues(Flatten(before.GetSection(key)), Flatten(after.GetSection(key))))
            {
                result.Add($"{after.Path}:{key}");
            }
        }
    }

    private static (Dictionary<string, string> Others, List<string> Peers) SplitPeers(IReadOnlyDictionary<string, string> settings)
    {
        var others = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var peers = new List<(int Index, string Value)>();
        foreach (var (key, value) in settings)
        {
            if (key.Equals(PeersKey, StringComparison.OrdinalIgnoreCase))
            {
                // "Peers": "host:port" — a single peer written without a list.
                peers.Add((-1, value));
            }
            else if (key.StartsWith(PeersKey + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase))
            {
                var index = int.TryParse(key.AsSpan(PeersKey.Length + 1), System.Globalization.CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue;
                peers.Add((index, value));
            }
            else
            {
                others[key] = value;
            }
        }

        return (others, [.. peers.OrderBy(p => p.Index).Select(p => p.Value)]);
    }

    private static Dictionary<string, string> Flatten(IConfigurationSection section)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (section.Value is { } own)
        {
            // A leaf (e.g. Router:KeyFile): AsEnumerable leaves the section itself out.
            result[""] = own;
        }

        foreach (var (key, value) in section.AsEnumerable(makePathsRelative: true))
        {
            if (value is not null)
            {
                result[key] = value;
            }
        }

        return result;
    }

    private static bool SameValues(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var other) && other == kv.Value);
}
