using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Router.Configuration;
using Router.Identity;

namespace Router.Cli;

/// <summary>
/// <c>router keygen</c> and <c>router address</c>: create a key file, or show the router
/// address of one, without a running router. Both find the key file as the router would:
/// an explicit path (<c>--out</c> / <c>--key</c>), else <c>Router:KeyFile</c> from
/// <c>--config FILE</c> or, like the client commands, from <c>./plugins.json</c> when it
/// exists, else <c>./router.key</c>. Key files are created and checked by <see cref="KeyFile"/>,
/// the same code the router uses at start.
/// </summary>
internal static partial class RouterCommands
{
    private const string KeyFileDefaults = "default: Router:KeyFile from --config FILE (or ./plugins.json), else ./router.key";

    private static Command KeygenCommand()
    {
        var output = new Option<string?>("--out", "-o") { Description = $"Key file to create ({KeyFileDefaults})." };
        var force = new Option<bool>("--force") { Description = "Replace an existing key file; the router's address changes with it." };
        var command = new Command("keygen", "Create a new key file (P-256, PKCS#8 PEM, mode 0600) and print its router address.") { output, force, JsonOption };
        command.SetAction(parse =>
        {
            if (!TryResolveKeyFile(parse.GetValue(output), parse.GetValue(ConfigOption), out var path))
            {
                return 1;
            }

            var replacing = parse.GetValue(force) && File.Exists(path);
            try
            {
                using var identity = KeyFile.Create(path, overwrite: parse.GetValue(force));
                PrintKey(identity, path, parse.GetValue(JsonOption));
                if (!parse.GetValue(JsonOption))
                {
                    Console.Error.WriteLine(replacing ? $"replaced key file {path}" : $"created key file {path}");
                }

                return 0;
            }
            catch (KeyFileException e) when (e.AlreadyExists)
            {
                Console.Error.WriteLine($"router: key file {path} already exists; not replacing it (the router using it would get a new address). Use --force to replace it.");
                return 1;
            }
            catch (KeyFileException e)
            {
                Console.Error.WriteLine($"router: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static Command AddressCommand()
    {
        var key = new Option<string?>("--key", "-k") { Description = $"Key file to read ({KeyFileDefaults})." };
        var command = new Command("address", "Print the router address of an existing key file; starts nothing.") { key, JsonOption };
        command.SetAction(parse =>
        {
            if (parse.GetValue(key) is not null && parse.GetValue(ConfigOption) is not null)
            {
                Console.Error.WriteLine("router: give --key FILE or --config FILE, not both");
                return 1;
            }

            if (!TryResolveKeyFile(parse.GetValue(key), parse.GetValue(ConfigOption), out var path))
            {
                return 1;
            }

            try
            {
                using var identity = KeyFile.Load(path);
                PrintKey(identity, path, parse.GetValue(JsonOption));
                return 0;
            }
            catch (KeyFileException e)
            {
                Console.Error.WriteLine(File.Exists(path)
                    ? $"router: {e.Message}"
                    : $"router: {e.Message} Create one with: router keygen --out {path}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>The address alone (so <c>$(router address)</c> works), or one JSON object.</summary>
    private static void PrintKey(RouterIdentity identity, string path, bool json)
    {
        if (!json)
        {
            Console.Out.WriteLine(identity.Address.ToString());
            return;
        }

        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("address", identity.Address.ToString());
            writer.WriteString("overlayAddress", Router.Sdk.OverlayAddress.For(identity.Address).ToString());
            writer.WriteString("keyFile", path);
            writer.WriteEndObject();
        }

        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static bool TryResolveKeyFile(string? path, string? config, out string keyFile)
    {
        try
        {
            keyFile = ResolveKeyFile(path, config);
            return true;
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"router: {e.Message}");
            keyFile = "";
            return false;
        }
    }

    /// <summary>
    /// An explicit path wins (relative to the current folder); else <c>Router:KeyFile</c> from
    /// <paramref name="config"/> or <c>./plugins.json</c>, resolved as the router resolves it
    /// (relative to the configuration's folder, <c>ROUTER__</c> variables applied); else
    /// <c>./router.key</c>.
    /// </summary>
    internal static string ResolveKeyFile(string? path, string? config)
    {
        if (path is not null)
        {
            return Path.GetFullPath(path);
        }

        config ??= File.Exists("plugins.json") ? "plugins.json" : null;
        if (config is null)
        {
            return Path.GetFullPath("router.key");
        }

        var configuration = RouterConfiguration.Load(config, []);
        return configuration.ReadRouterOptions([]).KeyFile;
    }
}
