using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Router.Logging;

/// <summary>How log lines are written to standard output (<c>Router:LogFormat</c>).</summary>
internal enum LogFormat
{
    /// <summary>One line per entry: UTC timestamp, level, category, event id, message.</summary>
    Text,

    /// <summary>One JSON object per line (<c>Timestamp</c>, <c>EventId</c>, <c>LogLevel</c>, <c>Category</c>, <c>Message</c>, <c>State</c>), for log shippers.</summary>
    Json,
}

/// <summary>The router's logging: the console in the configured format, filtered by <see cref="LogLevels"/>.</summary>
internal static class RouterLogging
{
    public const string FormatKey = "LogFormat";

    public static void Configure(ILoggingBuilder logging, LogLevels levels, LogFormat format)
    {
        // The API server would log every request at Information; the Logging section can still ask for that.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        logging.AddConfiguration(levels.Section);
        if (format == LogFormat.Json)
        {
            logging.AddJsonConsole(console =>
            {
                console.UseUtcTimestamp = true;
                console.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                // Log lines are read by people and shippers, not embedded in HTML: keep quotes and non-ASCII as they are.
                console.JsonWriterOptions = new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }
        else
        {
            logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
                console.UseUtcTimestamp = true;
            });
        }
    }

    /// <summary><c>Router:LogFormat</c>: <c>text</c> (the default) or <c>json</c>, any case; anything else is a problem.</summary>
    public static LogFormat ReadFormat(IConfigurationSection routerSection, List<string> problems)
    {
        var text = routerSection[FormatKey];
        if (text is null || text.Equals("text", StringComparison.OrdinalIgnoreCase))
        {
            return LogFormat.Text;
        }

        if (text.Equals("json", StringComparison.OrdinalIgnoreCase))
        {
            return LogFormat.Json;
        }

        problems.Add($"{routerSection.Path}:{FormatKey}: '{text}' is not a log format; use text or json.");
        return LogFormat.Text;
    }
}
