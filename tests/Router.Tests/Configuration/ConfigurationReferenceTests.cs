using System.Collections;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Router.Configuration;
using Router.Netmods.Inet;
using Router.Netmods.Tun;
using Router.Netmods.Udp;
using Router.Sdk;

namespace Router.Tests.Configuration;

/// <summary>
/// docs/configuration.md against the code: every key the configuration readers accept and
/// every property of every options type (any class named <c>*Options</c> in the router and in the
/// repository's netmods, found by reflection, so a new one cannot be left out) must be
/// documented in the section it is read from. A failure names each missing key.
/// </summary>
/// <remarks>
/// Where an options type is read from: a type with a <c>SectionName</c> constant is that section
/// (below the section of the options type that holds it, if one does: <c>Router:Dashboard</c>);
/// a type held by another options type without a <c>SectionName</c> shares its holder's section
/// (<c>SessionOptions</c> is read from <c>Router</c>); a netmod's top-level options type is
/// <c>Netmods:&lt;name&gt;</c>. A property's key is its name, with <c>Seconds</c> appended for
/// times, or prefixed by the type's own name (<c>Session</c>HandshakeTimeoutSeconds). The keys a
/// section accepts are its reader's list of known keys (a <c>KnownKeys</c> field).
/// </remarks>
public sealed partial class ConfigurationReferenceTests
{
    /// <summary>Options properties that are fixed in code, not read from configuration: each with the reason.</summary>
    private static readonly Dictionary<string, string> FixedProperties = new()
    {
        ["SessionOptions.RetransmitInterval"] = "fixed: once a second (docs/security.md)",
        ["SessionOptions.ReceiveGrace"] = "derived from ReassemblyTimeoutSeconds + SessionHandshakeTimeoutSeconds",
        ["SessionOptions.SessionsPerPeer"] = "fixed limit, stated under MaxSessions",
        ["SessionOptions.MaxPendingHandshakes"] = "fixed limit, stated under MaxSessions",
        ["SessionOptions.InitsPerSecond"] = "fixed rate (docs/security.md)",
        ["SessionOptions.ResetsPerSecond"] = "fixed rate (docs/security.md)",
        ["SessionOptions.RememberedInitiators"] = "fixed size (docs/security.md)",
        ["RoutingOptions.HopCost"] = "fixed cost (docs/routing.md)",
        ["RoutingOptions.MissedHellosForLoss"] = "fixed (docs/routing.md)",
        ["RoutingOptions.RouteExpiryIntervals"] = "fixed (docs/routing.md)",
        ["SecurityOptions.NetmodPeers"] = "the per-netmod AcceptUnknownPeers/AllowedPeers, checked with the core netmod keys",
        ["TunOptions.DevicePath"] = "tests only: the clone device to open",
        ["TunOptions.InterfacesPath"] = "tests only: where the namespace's interfaces show in sysfs",
    };

    private static readonly Assembly[] Assemblies =
    [
        typeof(RouterOptions).Assembly,
        typeof(InetFactory).Assembly,
        typeof(UdpFactory).Assembly,
        typeof(TunFactory).Assembly,
    ];

    [Fact]
    public void ConfigurationReference_EveryAcceptedKey_IsDocumented()
    {
        var documented = DocumentedKeys();
        var missing = new List<string>();
        foreach (var (section, owner) in Sections())
        {
            var subsections = Sections().Where(s => s.Section.StartsWith(section + ":", StringComparison.Ordinal)).Select(s => s.Section[(section.Length + 1)..]).ToHashSet();
            foreach (var key in AcceptedKeys(owner))
            {
                var coreKey = section.StartsWith(RouterConfiguration.NetmodsSection + ":", StringComparison.Ordinal) && RouterConfiguration.CoreNetmodKeys.Contains(key);
                if (!subsections.Contains(key) && !coreKey && !IsDocumented(documented, section, key))
                {
                    missing.Add($"{section}:{key} (accepted by the reader of {owner.Name})");
                }
            }
        }

        foreach (var key in RouterConfiguration.CoreNetmodKeys.Where(k => !IsDocumented(documented, RouterConfiguration.NetmodsSection, k)))
        {
            missing.Add($"{RouterConfiguration.NetmodsSection}:<name>:{key} (a core key of every netmod section)");
        }

        Assert.True(missing.Count == 0, $"docs/configuration.md does not document:\n  {string.Join("\n  ", missing)}");
    }

    [Fact]
    public void ConfigurationReference_EveryOptionsProperty_IsADocumentedKeyOrFixed()
    {
        var documented = DocumentedKeys();
        var problems = new List<string>();
        foreach (var type in OptionsTypes())
        {
            if (SectionOf(type) is not { } placed)
            {
                problems.Add($"{type.FullName}: cannot tell which configuration section it is read from; give it a SectionName constant or hold it in another options type");
                continue;
            }

            var (section, owner) = placed;
            var accepted = AcceptedKeys(owner);
            foreach (var (path, candidates) in Keys(type))
            {
                if (FixedProperties.ContainsKey(path))
                {
                    continue;
                }

                var key = accepted.Count > 0
                    ? candidates.FirstOrDefault(c => accepted.Contains(c, StringComparer.OrdinalIgnoreCase))
                    : candidates.FirstOrDefault(c => IsDocumented(documented, section, c));
                if (key is null)
                {
                    problems.Add($"{path}: no configuration key {string.Join(" or ", candidates.Select(c => $"{section}:{c}"))} is {(accepted.Count > 0 ? "accepted by its reader" : "documented")}; add the key (and document it), or list the property as fixed in this test");
                }
                else if (!IsDocumented(documented, section, key))
                {
                    problems.Add($"{path}: {section}:{key} is not documented");
                }
            }
        }

        Assert.True(problems.Count == 0, $"docs/configuration.md and the options types disagree:\n  {string.Join("\n  ", problems)}");
    }

    [Fact]
    public void OptionsTypes_Discovered_IncludeTheRouterAndEveryNetmod()
    {
        var names = OptionsTypes().Select(t => t.Name).ToList();

        Assert.Contains(nameof(RouterOptions), names);
        Assert.Contains("SessionOptions", names);
        Assert.Contains("InetOptions", names);
        Assert.Contains("UdpOptions", names);
        Assert.Contains("TunOptions", names);
        Assert.Contains(("Router:Dashboard", "DashboardOptions"), Sections().Select(s => (s.Section, s.Owner.Name)));
        Assert.All(FixedProperties.Keys, path => Assert.Contains(path, OptionsTypes().SelectMany(t => Keys(t)).Select(k => k.Path)));
    }

    [Fact]
    public void DocumentedKeys_TheReference_IsParsedBySection()
    {
        var documented = DocumentedKeys();

        Assert.Contains("KeyFile", documented["Router"]);
        Assert.Contains("Enabled", documented["Netmods"]);
        Assert.Contains("Listen", documented["Netmods:inet"]);
        Assert.Contains("Discovery", documented["Netmods:udp"]);
        Assert.Contains("Mtu", documented["Netmods:tun"]);
        Assert.False(IsDocumented(documented, "Router", "NoSuchKey"));
    }

    private static IEnumerable<Type> OptionsTypes() =>
        Assemblies.SelectMany(a => a.GetTypes())
            .Where(t => t is { IsClass: true, IsAbstract: false } && t.Name.EndsWith("Options", StringComparison.Ordinal)
                && t.Namespace?.StartsWith("Router", StringComparison.Ordinal) == true
                && t.GetCustomAttribute<CompilerGeneratedAttribute>() is null)
            .Distinct();

    /// <summary>Each configuration section and the options type that is read from it (its owner).</summary>
    private static List<(string Section, Type Owner)> Sections() =>
        OptionsTypes().Select(SectionOf).OfType<(string Section, Type Owner)>().Distinct().ToList();

    /// <summary>The section <paramref name="type"/> is read from, and the options type that owns that section.</summary>
    private static (string Section, Type Owner)? SectionOf(Type type)
    {
        var holder = OptionsTypes().FirstOrDefault(t => t != type && Properties(t).Any(p => p.PropertyType == type));
        var own = type.GetField("SectionName", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string;
        if (holder is not null)
        {
            if (SectionOf(holder) is not { } outer)
            {
                return null;
            }

            return own is null ? outer : ($"{outer.Section}:{own}", type);
        }

        if (own is not null)
        {
            return (own, type);
        }

        var factory = type.Assembly.GetTypes().FirstOrDefault(t => typeof(INetmodFactory).IsAssignableFrom(t) && !t.IsAbstract);
        return factory is null ? null : ($"{RouterConfiguration.NetmodsSection}:{((INetmodFactory)Activator.CreateInstance(factory)!).Name}", type);
    }

    /// <summary>The keys a section's reader accepts: its owner's <c>KnownKeys</c> (the Router section's are the loader's).</summary>
    private static IReadOnlyList<string> AcceptedKeys(Type owner)
    {
        var field = owner == typeof(RouterOptions)
            ? typeof(RouterConfiguration).GetField("KnownRouterKeys", BindingFlags.NonPublic | BindingFlags.Static)
            : owner.GetField("KnownKeys", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static);
        return field?.GetValue(null) as string[] ?? [];
    }

    private static IEnumerable<PropertyInfo> Properties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true } && p.Name != "EqualityContract");

    /// <summary>
    /// Each configurable property (<c>Type.Property</c>) with the key names it may have. Options
    /// types held as properties are checked on their own; other records of the router (a
    /// <c>PeerPolicy</c>) are read into their holder's section, so their properties count here.
    /// </summary>
    private static IEnumerable<(string Path, string[] Candidates)> Keys(Type type)
    {
        var options = OptionsTypes().ToHashSet();
        var prefix = type.Name[..^"Options".Length];
        foreach (var property in Properties(type))
        {
            var propertyType = property.PropertyType;
            if (options.Contains(propertyType))
            {
                continue;
            }

            var path = $"{type.Name}.{property.Name}";
            if (propertyType.IsClass && propertyType.Assembly == type.Assembly && !typeof(IEnumerable).IsAssignableFrom(propertyType) && !FixedProperties.ContainsKey(path))
            {
                foreach (var inner in Properties(propertyType))
                {
                    yield return ($"{path}.{inner.Name}", Candidates(inner, prefix));
                }

                continue;
            }

            yield return (path, Candidates(property, prefix));
        }
    }

    private static string[] Candidates(PropertyInfo property, string prefix)
    {
        var time = property.PropertyType == typeof(TimeSpan) ? "Seconds" : "";
        return [property.Name + time, prefix + property.Name + time];
    }

    /// <summary>The first column of every table in docs/configuration.md, by the section named (in backticks) in the heading above it.</summary>
    private static Dictionary<string, HashSet<string>> DocumentedKeys()
    {
        var path = Path.Combine(RepoRoot(), "docs", "configuration.md");
        var documented = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        string? section = null;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith('#'))
            {
                var heading = BacktickedText().Match(line);
                section = heading.Success ? heading.Groups[1].Value : null;
            }
            else if (section is not null && TableKey().Match(line) is { Success: true } row)
            {
                if (!documented.TryGetValue(section, out var keys))
                {
                    documented[section] = keys = new HashSet<string>(StringComparer.Ordinal);
                }

                keys.Add(row.Groups[1].Value);
            }
        }

        return documented;
    }

    /// <summary>Documented in its section's table, or as <c>Sub:Key</c> in the table of a section above it.</summary>
    private static bool IsDocumented(Dictionary<string, HashSet<string>> documented, string section, string key)
    {
        var parts = section.Split(':');
        for (var i = parts.Length; i > 0; i--)
        {
            var above = string.Join(':', parts[..i]);
            var relative = string.Join(':', [.. parts[i..], key]);
            if (documented.TryGetValue(above, out var keys) && keys.Contains(relative))
            {
                return true;
            }
        }

        return false;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Router.sln")))
            {
                return dir.FullName;
            }
        }

        // Built with --artifacts-path outside the repository: the source tree is where this file was compiled.
        return Path.GetFullPath(Path.Combine(SourceDirectory(), "..", "..", ".."));
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex BacktickedText();

    [GeneratedRegex(@"^\|\s*`([^`]+)`\s*\|")]
    private static partial Regex TableKey();
}
