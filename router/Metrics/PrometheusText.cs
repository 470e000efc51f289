using System.Globalization;
using System.Text;

namespace Router.Metrics;

/// <summary>Whether a metric only grows (a Prometheus counter) or goes up and down (a gauge).</summary>
internal enum MetricKind
{
    Counter,
    Gauge,
}

/// <summary>One series of a metric: its labels (in a fixed order) and its current value.</summary>
internal sealed record MetricSample(IReadOnlyList<KeyValuePair<string, string>> Labels, double Value);

/// <summary>
/// One metric as collected from an instrument: its instrument name (dotted, as
/// <c>System.Diagnostics.Metrics</c> names it), unit, description and series.
/// </summary>
internal sealed record MetricFamily(string InstrumentName, string? Unit, string? Description, MetricKind Kind, IReadOnlyList<MetricSample> Samples);

/// <summary>
/// The Prometheus text exposition format, version 0.0.4: <c># HELP</c> and <c># TYPE</c> lines,
/// then one line per series. Instrument names become metric names the way the OpenTelemetry
/// Prometheus exporter makes them — characters outside <c>[a-zA-Z0-9_:]</c> become <c>_</c>, the
/// unit is appended (<c>By</c> as <c>_bytes</c>, <c>s</c> as <c>_seconds</c>; annotations such as
/// <c>{frame}</c> add nothing) and counters end in <c>_total</c> — so dashboards written for
/// either read the same names.
/// </summary>
internal static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Writes every family; families whose names collide after sanitising are merged under the first one's HELP and TYPE.</summary>
    public static string Write(IEnumerable<MetricFamily> families)
    {
        var text = new StringBuilder();
        foreach (var group in families.GroupBy(f => MetricName(f.InstrumentName, f.Unit, f.Kind)).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var first = group.First();
            if (!string.IsNullOrEmpty(first.Description))
            {
                text.Append("# HELP ").Append(group.Key).Append(' ').Append(EscapeHelp(first.Description)).Append('\n');
            }

            text.Append("# TYPE ").Append(group.Key).Append(' ').Append(first.Kind == MetricKind.Counter ? "counter" : "gauge").Append('\n');
            foreach (var sample in group.SelectMany(f => f.Samples))
            {
                text.Append(group.Key);
                if (sample.Labels.Count > 0)
                {
                    text.Append('{');
                    for (var i = 0; i < sample.Labels.Count; i++)
                    {
                        if (i > 0)
                        {
                            text.Append(',');
                        }

                        text.Append(LabelName(sample.Labels[i].Key)).Append("=\"").Append(EscapeLabelValue(sample.Labels[i].Value)).Append('"');
                    }

                    text.Append('}');
                }

                text.Append(' ').Append(FormatValue(sample.Value)).Append('\n');
            }
        }

        return text.ToString();
    }

    /// <summary>The Prometheus name of an instrument: sanitised, unit suffix, <c>_total</c> for counters.</summary>
    public static string MetricName(string instrumentName, string? unit, MetricKind kind)
    {
        var name = Sanitize(instrumentName, allowColon: true);
        var suffix = UnitSuffix(unit);
        if (suffix.Length > 0 && !name.EndsWith("_" + suffix, StringComparison.Ordinal))
        {
            name += "_" + suffix;
        }

        if (kind == MetricKind.Counter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    /// <summary>A label name: <c>[a-zA-Z_][a-zA-Z0-9_]*</c>.</summary>
    public static string LabelName(string key) => Sanitize(key, allowColon: false);

    /// <summary>Label values may hold anything but need <c>\</c>, <c>"</c> and line feeds escaped.</summary>
    public static string EscapeLabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>HELP text needs <c>\</c> and line feeds escaped (quotes stay as they are).</summary>
    public static string EscapeHelp(string help) =>
        help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Go's float syntax: integers without a fraction, <c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>.</summary>
    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        _ when double.IsNaN(value) => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string UnitSuffix(string? unit)
    {
        if (string.IsNullOrEmpty(unit) || unit.StartsWith('{'))
        {
            return "";
        }

        return unit switch
        {
            "By" => "bytes",
            "s" => "seconds",
            "ms" => "milliseconds",
            "1" => "",
            _ => Sanitize(unit, allowColon: false).Trim('_'),
        };
    }

    private static string Sanitize(string name, bool allowColon)
    {
        if (name.Length == 0)
        {
            return "_";
        }

        var result = new StringBuilder(name.Length + 1);
        if (char.IsAsciiDigit(name[0]))
        {
            result.Append('_');
        }

        foreach (var c in name)
        {
            result.Append(char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':') ? c : '_');
        }

        return result.ToString();
    }
}
