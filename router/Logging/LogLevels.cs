using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Router.Logging;

/// <summary>
/// The log levels in force, changeable while the router runs. The logger factory takes its
/// filter rules (and console options) from <see cref="Section"/>: a configuration of two
/// in-memory layers, the <c>Logging</c> section of the configuration file below and levels set
/// through the API (<c>router log-level</c>) above. Replacing either layer fires the
/// configuration's change token, and the factory's <c>IOptionsMonitor&lt;LoggerFilterOptions&gt;</c>
/// applies the new rules to every logger, existing ones included.
/// <list type="bullet">
/// <item><see cref="Set"/> and <see cref="Reset"/>: the API's overrides;</item>
/// <item><see cref="Apply"/>: a configuration reload hands over the new file's configuration;
///   its <c>Logging</c> section replaces the lower layer and the overrides are dropped, so after
///   a reload the file says what is logged.</item>
/// </list>
/// </summary>
internal sealed class LogLevels
{
    public const string SectionName = "Logging";
    public const string DefaultCategory = "Default";

    private readonly object _gate = new();
    private readonly Layer _configured = new();
    private readonly Layer _overrides = new();

    public LogLevels(IConfiguration configuration)
    {
        _configured.Replace(Copy(configuration));
        Section = new ConfigurationBuilder().Add(_configured).Add(_overrides).Build().GetSection(SectionName);
    }

    /// <summary>The <c>Logging</c> section to give <c>ILoggingBuilder.AddConfiguration</c>.</summary>
    public IConfigurationSection Section { get; }

    /// <summary>Sets the level of <paramref name="category"/> (a category prefix such as <c>Router.Switching</c>, or <c>Default</c>) until the next <see cref="Reset"/> or reload.</summary>
    public void Set(string category, LogLevel level)
    {
        if (!IsValidCategory(category))
        {
            throw new ArgumentException($"'{category}' is not a log category: use a category name such as Router.Switching or {DefaultCategory}.", nameof(category));
        }

        lock (_gate)
        {
            var values = new Dictionary<string, string?>(_overrides.Values, StringComparer.OrdinalIgnoreCase)
            {
                // The console's own rules (Logging:Console:LogLevel) would win over the general ones; set both.
                [$"{SectionName}:LogLevel:{category}"] = level.ToString(),
                [$"{SectionName}:Console:LogLevel:{category}"] = level.ToString(),
            };
            _overrides.Replace(values);
        }
    }

    /// <summary>Drops every level set with <see cref="Set"/>; returns whether there were any.</summary>
    public bool Reset()
    {
        lock (_gate)
        {
            var had = _overrides.Values.Count > 0;
            _overrides.Replace(new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase));
            return had;
        }
    }

    /// <summary>After a configuration reload: the new configuration's <c>Logging</c> section applies and the overrides end.</summary>
    public void Apply(IConfiguration configuration)
    {
        lock (_gate)
        {
            _overrides.Replace(new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase), notify: false);
            _configured.Replace(Copy(configuration));
        }
    }

    /// <summary>The levels from the configuration file (<c>Logging:LogLevel</c>) and those set at run time, by category.</summary>
    public (IReadOnlyDictionary<string, string> Configured, IReadOnlyDictionary<string, string> Overrides) Describe()
    {
        static Dictionary<string, string> Levels(IReadOnlyDictionary<string, string?> values)
        {
            const string prefix = SectionName + ":LogLevel:";
            return values
                .Where(kv => kv.Key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && kv.Value is not null)
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value!, StringComparer.OrdinalIgnoreCase);
        }

        lock (_gate)
        {
            return (Levels(_configured.Values), Levels(_overrides.Values));
        }
    }

    /// <summary>A level by name (<c>Trace</c> … <c>Critical</c>, <c>None</c>; any case). Numbers are not accepted.</summary>
    public static bool TryParseLevel(string? text, out LogLevel level)
    {
        level = LogLevel.None;
        return text is { Length: > 0 } && !char.IsAsciiDigit(text[0]) && text[0] != '-' && text[0] != '+'
            && Enum.TryParse(text, ignoreCase: true, out level) && Enum.IsDefined(level);
    }

    /// <summary>Category names are dotted .NET names; ':' would nest configuration keys.</summary>
    public static bool IsValidCategory(string? category) =>
        category is { Length: > 0 and <= 256 } && category.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '*');

    private static Dictionary<string, string?> Copy(IConfiguration configuration) =>
        configuration.GetSection(SectionName).AsEnumerable()
            .Where(kv => kv.Value is not null)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>One layer: its values are replaced whole, and each replacement tells the configuration.</summary>
    private sealed class Layer : ConfigurationProvider, IConfigurationSource
    {
        public IReadOnlyDictionary<string, string?> Values => (Dictionary<string, string?>)Data;

        public void Replace(Dictionary<string, string?> values, bool notify = true)
        {
            // Readers on other threads see the old dictionary or the new one, never a half-changed one.
            Data = values;
            if (notify)
            {
                OnReload();
            }
        }

        public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
    }
}
