using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Router.Configuration;

/// <summary>
/// The one configuration loader: the JSON file, then <c>ROUTER__</c> environment variables,
/// then command-line overrides, each overriding the one before. Reading and validating are
/// separate so <c>router --check</c> and start-up report the same problems.
/// </summary>
internal sealed class RouterConfiguration
{
    public const string EnvironmentPrefix = "ROUTER__";
    public const string NetmodsSection = "Netmods";

    private static readonly string[] KnownRootSections = [RouterOptions.SectionName, NetmodsSection, "Logging"];

    private static readonly string[] KnownRouterKeys =
    [
        nameof(RouterOptions.KeyFile), nameof(RouterOptions.ApiSocket), nameof(RouterOptions.PluginsDirectory),
        nameof(RouterOptions.MaxMessageBytes), nameof(RouterOptions.ReassemblyBufferBytes),
        nameof(RouterOptions.ReassemblyBytesPerSource), "SessionHandshakeTimeoutSeconds", "RekeyAfterMessages", "RekeyAfterSeconds", "MaxSessions",
        "ReassemblyTimeoutSeconds", nameof(RouterOptions.HopLimit), nameof(RouterOptions.InboxMessages),
        "HelloIntervalSeconds", "UpdateIntervalSeconds", "MaxRoutes",
        "NetworkSecret", "AcceptUnknownPeers", "AllowedPeers", "HandshakeTimeoutSeconds", "ControlFramesPerSecond",
        Dashboard.DashboardOptions.SectionName, nameof(RouterOptions.LogFormat),
    ];

    /// <summary>Keys of a netmod's section that belong to the core, not the netmod: the netmod never sees them.</summary>
    public static readonly string[] CoreNetmodKeys = ["Enabled", "AcceptUnknownPeers", "AllowedPeers"];

    private RouterConfiguration(string filePath, IConfigurationRoot root, IReadOnlyList<string>? overrides = null)
    {
        Overrides = overrides ?? [];
        FilePath = filePath;
        Directory = Path.GetDirectoryName(filePath)!;
        Root = root;
    }

    /// <summary>The configuration file, as an absolute path.</summary>
    public string FilePath { get; }

    /// <summary>The folder relative paths are resolved against.</summary>
    public string Directory { get; }

    public IConfigurationRoot Root { get; }

    /// <summary>The command-line overrides it was loaded with, so a reload reads the same sources.</summary>
    public IReadOnlyList<string> Overrides { get; }

    /// <summary>Reads the sources. Throws <see cref="ConfigurationException"/> if the file cannot be read or parsed.</summary>
    public static RouterConfiguration Load(string filePath, IReadOnlyList<string> overrides, IDictionary<string, string?>? environment = null)
    {
        var fullPath = Path.GetFullPath(filePath);
        if (!File.Exists(fullPath))
        {
            throw new ConfigurationException([$"Configuration file {fullPath} does not exist."]);
        }

        var builder = new ConfigurationBuilder();
        builder.AddJsonFile(fullPath, optional: false, reloadOnChange: false);
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            // Tests pass their own environment so they do not depend on the process's.
            builder.AddInMemoryCollection(environment
                .Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
                .Select(kv => new KeyValuePair<string, string?>(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), kv.Value)));
        }

        builder.AddCommandLine(overrides.ToArray());
        try
        {
            return new RouterConfiguration(fullPath, builder.Build(), [.. overrides]);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or IOException)
        {
            var reason = e.InnerException?.Message ?? e.Message;
            throw new ConfigurationException([$"Configuration file {fullPath} cannot be read: {reason}"], e);
        }
    }

    /// <summary>Configuration from memory rather than a file (routers run inside tests); paths resolve against <paramref name="directory"/>.</summary>
    public static RouterConfiguration InMemory(IEnumerable<KeyValuePair<string, string?>> values, string directory) =>
        new(Path.Combine(Path.GetFullPath(directory), "(memory)"), new ConfigurationBuilder().AddInMemoryCollection(values).Build());

    /// <summary>Resolves a path from the configuration against the configuration file's folder.</summary>
    public string ResolvePath(string path) =>
        Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(Directory, path));

    /// <summary>The section of one netmod, <c>Netmods:&lt;name&gt;</c>.</summary>
    public IConfigurationSection NetmodSection(string name) => Root.GetSection(NetmodsSection).GetSection(name);

    /// <summary>
    /// What a netmod is given to validate and read: its section without the keys the core
    /// reads there (<see cref="CoreNetmodKeys"/>), so netmods need not know them. Same path.
    /// </summary>
    public IConfigurationSection NetmodSettings(string name)
    {
        var section = NetmodSection(name);
        var prefix = section.Path + ConfigurationPath.KeyDelimiter;
        var values = section.AsEnumerable()
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Where(kv => !CoreNetmodKeys.Any(core =>
            {
                var key = kv.Key[prefix.Length..];
                return key.Equals(core, StringComparison.OrdinalIgnoreCase) || key.StartsWith(core + ConfigurationPath.KeyDelimiter, StringComparison.OrdinalIgnoreCase);
            }));
        return new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(section.Path);
    }

    /// <summary>Names of netmods that have a section, as written.</summary>
    public IReadOnlyList<string> ConfiguredNetmods() =>
        Root.GetSection(NetmodsSection).GetChildren().Select(s => s.Key).ToList();

    /// <summary>
    /// Whether a netmod is enabled: its section exists and <c>Enabled</c> is not false
    /// (a section without <c>Enabled</c> means the user wants it).
    /// </summary>
    public bool IsEnabled(string name, List<string> problems)
    {
        // An empty section ("tun": {}) has no keys, so look for the name among the children.
        if (!ConfiguredNetmods().Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            return false;
        }

        var section = NetmodSection(name);

        var text = section["Enabled"];
        if (text is null)
        {
            return true;
        }

        if (bool.TryParse(text, out var enabled))
        {
            return enabled;
        }

        problems.Add($"{section.Path}:Enabled: '{text}' is not true or false.");
        return false;
    }

    /// <summary>Reads and checks the <c>Router</c> section, adding every problem to <paramref name="problems"/>.</summary>
    public RouterOptions ReadRouterOptions(List<string> problems)
    {
        foreach (var child in Root.GetChildren())
        {
            if (!KnownRootSections.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{child.Path}: unknown section (known: {string.Join(", ", KnownRootSections)}).");
            }
        }

        var section = Root.GetSection(RouterOptions.SectionName);
        foreach (var child in section.GetChildren())
        {
            if (!KnownRouterKeys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                problems.Add($"{child.Path}: unknown key (known: {string.Join(", ", KnownRouterKeys)}).");
            }
        }

        var defaults = new RouterOptions { KeyFile = "", ApiSocket = "", PluginsDirectory = "" };
        var apiSocket = ResolvePath(section["ApiSocket"] is { Length: > 0 } api ? api : "router.sock");

        // sun_path holds 108 bytes including the terminating NUL.
        if (System.Text.Encoding.UTF8.GetByteCount(apiSocket) > 107)
        {
            problems.Add($"{section.Path}:ApiSocket: '{apiSocket}' is longer than the 107 bytes a Unix socket path may have; choose a shorter path.");
        }

        var pluginsDirectory = section["PluginsDirectory"] is { Length: > 0 } plugins
            ? ResolvePath(plugins)
            : Path.Combine(AppContext.BaseDirectory, "plugins");

        return new RouterOptions
        {
            KeyFile = ResolvePath(section["KeyFile"] is { Length: > 0 } key ? key : "router.key"),
            ApiSocket = apiSocket,
            PluginsDirectory = pluginsDirectory,
            MaxMessageBytes = ReadInt(section, "MaxMessageBytes", defaults.MaxMessageBytes, 1, 1024 * 1024 * 1024, problems),
            ReassemblyBufferBytes = ReadLong(section, "ReassemblyBufferBytes", defaults.ReassemblyBufferBytes, 64 * 1024, 64L * 1024 * 1024 * 1024, problems),
            ReassemblyTimeout = TimeSpan.FromSeconds(ReadDouble(section, "ReassemblyTimeoutSeconds", defaults.ReassemblyTimeout.TotalSeconds, 0.1, 3600, problems)),
            HopLimit = (byte)ReadInt(section, "HopLimit", defaults.HopLimit, 1, 255, problems),
            InboxMessages = ReadInt(section, "InboxMessages", defaults.InboxMessages, 0, 1_000_000, problems),
            Routing = ReadRouting(section, defaults.Routing, problems),
            ReassemblyBytesPerSource = ReadBytesPerSource(section, problems),
            Sessions = ReadSessions(section, defaults.Sessions, problems),
            Security = ReadSecurity(section, defaults.Security, problems),
            Dashboard = Dashboard.DashboardOptions.Read(section.GetSection(Dashboard.DashboardOptions.SectionName), problems),
            LogFormat = Logging.RouterLogging.ReadFormat(section, problems),
        };
    }

    private Security.SecurityOptions ReadSecurity(IConfigurationSection section, Security.SecurityOptions defaults, List<string> problems)
    {
        var secret = section["NetworkSecret"];
        if (secret is { Length: > 0 and < 16 })
        {
            problems.Add($"{section.Path}:NetworkSecret: too short ({secret.Length} characters); use at least 16 random characters (e.g. `openssl rand -base64 32`).");
        }

        var netmodPolicies = new Dictionary<string, Security.PeerPolicy>(StringComparer.OrdinalIgnoreCase);
        var global = ReadPeerPolicy(section, Security.PeerPolicy.Open, problems);
        foreach (var netmod in Root.GetSection(NetmodsSection).GetChildren())
        {
            if (netmod["AcceptUnknownPeers"] is not null || netmod.GetSection("AllowedPeers").Exists())
            {
                netmodPolicies[netmod.Key] = ReadPeerPolicy(netmod, global, problems);
            }
        }

        return defaults with
        {
            NetworkSecret = string.IsNullOrEmpty(secret) ? null : secret,
            Peers = global,
            NetmodPeers = netmodPolicies,
            HandshakeTimeout = TimeSpan.FromSeconds(ReadDouble(section, "HandshakeTimeoutSeconds", defaults.HandshakeTimeout.TotalSeconds, 1, 600, problems)),
            ControlFramesPerSecond = ReadInt(section, "ControlFramesPerSecond", defaults.ControlFramesPerSecond, 10, 1_000_000, problems),
        };
    }

    /// <summary>AcceptUnknownPeers and AllowedPeers of a section; what it leaves out comes from <paramref name="fallback"/>.</summary>
    private static Security.PeerPolicy ReadPeerPolicy(IConfigurationSection section, Security.PeerPolicy fallback, List<string> problems)
    {
        var accept = fallback.AcceptUnknownPeers;
        if (section["AcceptUnknownPeers"] is { } text && !bool.TryParse(text, out accept))
        {
            problems.Add($"{section.Path}:AcceptUnknownPeers: '{text}' is not true or false.");
            accept = fallback.AcceptUnknownPeers;
        }

        var allowed = section.GetSection("AllowedPeers");
        if (!allowed.Exists())
        {
            return new Security.PeerPolicy(accept, fallback.AllowedPeers);
        }

        var addresses = new HashSet<Sdk.RouterAddress>();
        foreach (var entry in allowed.GetChildren())
        {
            if (Sdk.RouterAddress.TryParse(entry.Value, out var address))
            {
                addresses.Add(address);
            }
            else
            {
                problems.Add($"{entry.Path}: '{entry.Value}' is not a router address (64 hex digits, e.g. from `router address`).");
            }
        }

        if (allowed.Value is { Length: > 0 } single)
        {
            problems.Add($"{allowed.Path}: must be a list of router addresses, not '{single}'.");
        }

        return new Security.PeerPolicy(accept, addresses);
    }

    /// <summary>
    /// <c>ReassemblyBytesPerSource</c>: when not set, 32 MiB or one largest message, whichever is
    /// more; when set, at least one largest message (with its sealing or signature overhead), or
    /// no source could ever send one.
    /// </summary>
    private static long ReadBytesPerSource(IConfigurationSection section, List<string> problems)
    {
        var maxMessage = ReadInt(section, "MaxMessageBytes", 16 * 1024 * 1024, 1, 1024 * 1024 * 1024, []);
        var oneMessage = (long)maxMessage + Security.Sessions.SessionService.MaxWireOverhead;
        if (section["ReassemblyBytesPerSource"] is null)
        {
            return Math.Max(32L * 1024 * 1024, oneMessage);
        }

        return ReadLong(section, "ReassemblyBytesPerSource", oneMessage, oneMessage, 64L * 1024 * 1024 * 1024, problems);
    }

    private static Security.Sessions.SessionOptions ReadSessions(IConfigurationSection section, Security.Sessions.SessionOptions defaults, List<string> problems)
    {
        var handshake = TimeSpan.FromSeconds(ReadDouble(section, "SessionHandshakeTimeoutSeconds", defaults.HandshakeTimeout.TotalSeconds, 0.1, 120, problems));
        var reassembly = TimeSpan.FromSeconds(ReadDouble(section, "ReassemblyTimeoutSeconds", 30, 0.1, 3600, []));
        return defaults with
        {
            HandshakeTimeout = handshake,
            RekeyAfterMessages = ReadLong(section, "RekeyAfterMessages", defaults.RekeyAfterMessages, 1, 1L << 60, problems),
            RekeyAfter = TimeSpan.FromSeconds(ReadDouble(section, "RekeyAfterSeconds", defaults.RekeyAfter.TotalSeconds, 1, 86_400, problems)),
            MaxSessions = ReadInt(section, "MaxSessions", defaults.MaxSessions, 16, 10_000_000, problems),

            // A message sealed just before a re-key may take up to the reassembly timeout to arrive.
            ReceiveGrace = reassembly + handshake,
        };
    }

    private static Routing.RoutingOptions ReadRouting(IConfigurationSection section, Routing.RoutingOptions defaults, List<string> problems)
    {
        var hello = ReadDouble(section, "HelloIntervalSeconds", defaults.HelloInterval.TotalSeconds, 0.05, 60, problems);
        var update = ReadDouble(section, "UpdateIntervalSeconds", defaults.UpdateInterval.TotalSeconds, 0.1, 600, problems);
        if (update < hello)
        {
            problems.Add($"{section.Path}:UpdateIntervalSeconds ({update}) must not be shorter than HelloIntervalSeconds ({hello}).");
        }

        return defaults with
        {
            HelloInterval = TimeSpan.FromSeconds(hello),
            UpdateInterval = TimeSpan.FromSeconds(update),
            MaxRoutes = ReadInt(section, "MaxRoutes", defaults.MaxRoutes, 1, 10_000_000, problems),
        };
    }

    private static int ReadInt(IConfigurationSection section, string key, int fallback, int min, int max, List<string> problems) =>
        (int)ReadLong(section, key, fallback, min, max, problems);

    private static long ReadLong(IConfigurationSection section, string key, long fallback, long min, long max, List<string> problems)
    {
        var text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        problems.Add($"{section.Path}:{key}: '{text}' is not a whole number from {min} to {max}.");
        return fallback;
    }

    private static double ReadDouble(IConfigurationSection section, string key, double fallback, double min, double max, List<string> problems)
    {
        var text = section[key];
        if (text is null)
        {
            return fallback;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        problems.Add($"{section.Path}:{key}: '{text}' is not a number from {min} to {max}.");
        return fallback;
    }
}

/// <summary>Configuration that cannot be used; <see cref="Problems"/> lists every reason.</summary>
internal sealed class ConfigurationException : Exception
{
    public ConfigurationException(IReadOnlyList<string> problems, Exception? inner = null)
        : base(string.Join(Environment.NewLine, problems), inner)
    {
        Problems = problems;
    }

    public IReadOnlyList<string> Problems { get; }
}
