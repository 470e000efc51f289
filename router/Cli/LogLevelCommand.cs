using System.CommandLine;
using System.Text.Json;
using Router.Logging;

namespace Router.Cli;

/// <summary>
/// <c>router log-level [LEVEL] [--category C] [--reset] [--json]</c>: shows the log levels of a
/// running router, sets one (until reset, a configuration reload or a restart), or drops the
/// levels set this way (<see cref="LogLevelEndpoints"/>).
/// </summary>
internal static partial class RouterCommands
{
    private static Command LogLevelCommand()
    {
        var level = new Argument<string?>("level") { Description = "Trace, Debug, Information, Warning, Error, Critical or None. Without it: show the levels.", Arity = ArgumentArity.ZeroOrOne };
        var category = new Option<string?>("--category") { Description = "Log category (prefix) to set, e.g. Router.Switching or Router.Netmods.Inet (default: Default, every category without a level of its own)." };
        var reset = new Option<bool>("--reset") { Description = "Drop every level set at run time: the configuration's Logging section applies again." };
        var command = new Command("log-level", "Show or change a running router's log levels.") { level, category, reset, JsonOption };
        command.Validators.Add(result =>
        {
            if (result.GetValue(reset) && (result.GetValue(level) is not null || result.GetValue(category) is not null))
            {
                result.AddError("--reset takes no LEVEL or --category");
            }
            else if (result.GetValue(category) is not null && result.GetValue(level) is null)
            {
                result.AddError("--category needs a LEVEL");
            }
        });
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            LogLevelResponse levels;
            if (parse.GetValue(reset))
            {
                levels = await client.DeleteAsync("v1/log-level", LoggingJson.Default.LogLevelResponse, ct);
            }
            else if (parse.GetValue(level) is { } wanted)
            {
                if (!LogLevels.TryParseLevel(wanted, out _))
                {
                    Console.Error.WriteLine($"router: '{wanted}' is not a log level; use Trace, Debug, Information, Warning, Error, Critical or None");
                    return 1;
                }

                var query = $"v1/log-level?level={Uri.EscapeDataString(wanted)}";
                if (parse.GetValue(category) is { } name)
                {
                    query += $"&category={Uri.EscapeDataString(name)}";
                }

                levels = await client.PostAsync(query, new ByteArrayContent([]), LoggingJson.Default.LogLevelResponse, ct);
            }
            else
            {
                levels = await client.GetAsync("v1/log-level", LoggingJson.Default.LogLevelResponse, ct);
            }

            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(levels, LoggingJson.Default.LogLevelResponse));
                return 0;
            }

            var rows = levels.Configured.Keys.Union(levels.Overrides.Keys, StringComparer.OrdinalIgnoreCase)
                .Order(StringComparer.OrdinalIgnoreCase)
                .Select(c => (IReadOnlyList<string>)[
                    c,
                    levels.Overrides.TryGetValue(c, out var set) ? set : levels.Configured[c],
                    levels.Overrides.ContainsKey(c) ? "set at run time" : "configuration"])
                .ToList();
            if (rows.Count == 0)
            {
                Console.Out.WriteLine("no levels configured: Information for every category");
            }
            else
            {
                Console.Out.Write(TextTable.Render(["CATEGORY", "LEVEL", "FROM"], rows));
            }

            return 0;
        }));
        return command;
    }
}
