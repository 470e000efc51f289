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
        "ReassemblyTimeoutSeconds", nameof(RouterOptions.HopLimit), nameof(RouterOptions.InboxMessages),
        "HelloIntervalSeconds", "UpdateIntervalSeconds", "MaxRoutes",
    ];

    private RouterConfiguration(string filePath, IConfigurationRoot root)
    {
        FilePath = filePath;
        Directory = Path.GetDirectoryName(filePath)!;
        Root = root;
    }

    /// <summary>The configuration file, as an absolute path.</summary>
    public string FilePath { get; }

    /// <summary>The folder relative paths are resolved against.</summary>
    public string Directory { get; }

    public IConfigurationRoot Root { get; }

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
            return new RouterConfiguration(fullPath, builder.Build());
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
