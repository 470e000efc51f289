using System.CommandLine;
using System.Net;
using System.Text.Json;
using Router.Api;

namespace Router.Cli;

/// <summary>
/// <c>router reload</c> and <c>router plugins [load|unload NAME]</c>: live reload and hot plugins
/// of a running router (<see cref="ReloadEndpoints"/>).
/// </summary>
internal static partial class RouterCommands
{
    private static Command ReloadCommand()
    {
        var command = new Command("reload", "Re-read the running router's configuration file and apply what changed; an invalid file is rejected with every problem listed and changes nothing.") { JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var result = await client.PostAcceptingAsync("v1/reload", ReloadJson.Default.ReloadResponse, HttpStatusCode.UnprocessableEntity, ct);
            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, ReloadJson.Default.ReloadResponse));
            }
            else if (!result.Applied)
            {
                Console.Error.WriteLine($"router: configuration {result.File} rejected, {result.Problems.Count} problem{(result.Problems.Count == 1 ? "" : "s")} (the configuration in force is unchanged):");
                foreach (var problem in result.Problems)
                {
                    Console.Error.WriteLine($"  - {problem}");
                }
            }
            else
            {
                Console.Out.WriteLine($"reloaded {result.File}");
                foreach (var change in result.Changes)
                {
                    Console.Out.WriteLine($"  {change}");
                }

                foreach (var warning in result.Warnings)
                {
                    Console.Error.WriteLine($"router: warning: {warning}");
                }

                foreach (var failure in result.Failures)
                {
                    Console.Error.WriteLine($"router: {failure}");
                }
            }

            return result.Applied && result.Failures.Count == 0 ? 0 : 1;
        }));
        return command;
    }

    private static Command PluginsCommand()
    {
        var command = new Command("plugins", "List the netmod plugins a running router has loaded, with their versions; load or unload one while it runs.") { JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var plugins = await client.GetAsync("v1/plugins", ReloadJson.Default.IReadOnlyListPluginInfo, ct);
            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(plugins, ReloadJson.Default.IReadOnlyListPluginInfo));
            }
            else if (plugins.Count == 0)
            {
                Console.Out.WriteLine("no netmods loaded");
            }
            else
            {
                Console.Out.Write(TextTable.Render(
                    ["NETMOD", "VERSION", "SDK", "STATE", "PATH", "ERROR"],
                    plugins.Select(p => (IReadOnlyList<string>)[p.Name, p.Version, p.SdkVersion, p.State, p.Path, p.Error ?? ""])));
            }

            return 0;
        }));
        command.Subcommands.Add(PluginActionCommand("load", "Load plugins/NAME/NAME.dll into the running router and start the netmod with its Netmods:NAME section (even if that says Enabled: false)."));
        command.Subcommands.Add(PluginActionCommand("unload", "Stop the netmod NAME (its links go down) and unload its plugin."));
        return command;
    }

    private static Command PluginActionCommand(string action, string description)
    {
        var name = new Argument<string>("name") { Description = "The netmod's name (its folder under plugins/)." };
        var command = new Command(action, description) { name, JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var result = await client.PostAsync(
                $"v1/plugins/{Uri.EscapeDataString(parse.GetValue(name)!)}/{action}", new ByteArrayContent([]), ReloadJson.Default.PluginActionResponse, ct);
            Console.Out.WriteLine(parse.GetValue(JsonOption) ? JsonSerializer.Serialize(result, ReloadJson.Default.PluginActionResponse) : result.Message);
            return 0;
        }));
        return command;
    }
}
