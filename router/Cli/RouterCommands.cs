using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Router.Api;
using Router.Configuration;
using Router.Hosting;
using Router.Sdk;

namespace Router.Cli;

/// <summary>
/// The command line. <c>router --config FILE [--check]</c> runs (or checks) a router; most
/// subcommands are clients of a running router's API, found with <c>--api PATH</c> or read
/// from <c>--config FILE</c>; <c>keygen</c> and <c>address</c> (KeyCommands.cs) work on key
/// files and need no router. Unrecognised <c>--Section:Key value</c> tokens on the run
/// command are configuration overrides.
/// </summary>
internal static partial class RouterCommands
{
    private static readonly Option<string?> ConfigOption = new("--config", "-c")
    {
        Description = "Configuration file (JSON). Runs a router, or tells client commands where its API socket (keygen and address: its key file) is.",
        Recursive = true,
    };

    private static readonly Option<string?> ApiOption = new("--api")
    {
        Description = "Path of a running router's API socket (overrides --config).",
        Recursive = true,
    };

    private static readonly Option<bool> JsonOption = new("--json")
    {
        Description = "Print JSON for scripts instead of a table.",
    };

    public static RootCommand Create()
    {
        var check = new Option<bool>("--check") { Description = "Validate the configuration, print every problem, and exit 0 (valid) or 1." };
        var root = new RootCommand("Router: a mesh router with pluggable network modules.\nRun: router --config FILE [--check] [--Section:Key value ...]")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        root.Options.Add(ConfigOption);
        root.Options.Add(ApiOption);
        root.Options.Add(check);
        root.SetAction(async (parse, cancellationToken) =>
        {
            var config = parse.GetValue(ConfigOption);
            if (config is null)
            {
                Console.Error.WriteLine("router: give --config FILE to run a router (try: router --config plugins.json), or a subcommand; see router --help");
                return 1;
            }

            var unknown = parse.UnmatchedTokens.Where(t => t.StartsWith('-') && !t.Contains(':', StringComparison.Ordinal)).ToList();
            if (unknown.Count > 0)
            {
                Console.Error.WriteLine($"router: unknown option {string.Join(", ", unknown)}; configuration overrides look like --Router:ApiSocket /run/router.sock");
                return 1;
            }

            return await RouterApp.RunAsync(config, parse.UnmatchedTokens, parse.GetValue(check), cancellationToken);
        });

        root.Subcommands.Add(StatusCommand());
        root.Subcommands.Add(PeersCommand());
        root.Subcommands.Add(SendCommand());
        root.Subcommands.Add(ListenCommand());
        root.Subcommands.Add(RoutesCommand());
        root.Subcommands.Add(PingCommand());
        root.Subcommands.Add(TracerouteCommand());
        root.Subcommands.Add(KeygenCommand());
        root.Subcommands.Add(AddressCommand());
        root.Subcommands.Add(LogLevelCommand());
        root.Subcommands.Add(ReloadCommand());
        root.Subcommands.Add(PluginsCommand());
        VersionAction.Install(root);
        return root;
    }

    private static Command StatusCommand()
    {
        var command = new Command("status", "Show the router's address, uptime, netmods and peers.") { JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var status = await client.GetAsync("v1/status", ApiJson.Default.StatusResponse, ct);
            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(status, ApiJson.Default.StatusResponse));
                return 0;
            }

            Console.Out.WriteLine($"address   {status.Address}");
            Console.Out.WriteLine($"version   {status.Version} (SDK {status.SdkVersion})");
            Console.Out.WriteLine($"uptime    {TimeSpan.FromSeconds(Math.Floor(status.UptimeSeconds))}");
            Console.Out.WriteLine($"overlay   {status.Overlay.Address}{(status.Overlay.Interface is { } iface ? $" on {iface}" : " (no IP interface)")}");
            Console.Out.WriteLine($"routes    {status.Counters.Routes}");
            if (status.Overlay.Conflicts.Count > 0)
            {
                Console.Out.WriteLine($"conflicts {string.Join("; ", status.Overlay.Conflicts.Select(c => $"{c.Prefix} announced by {c.Claimants.Count} routers, goes to {c.Router}"))}");
            }

            Console.Out.WriteLine($"frames    {status.Counters.FramesReceived} received, {status.Counters.FramesForwarded} forwarded, {status.Counters.FramesDeliveredLocally} delivered, {status.Counters.FramesDropped.Values.Sum()} dropped");
            if (status.Overlay.Interface is not null)
            {
                var packets = status.Overlay.Counters;
                long Count(string name) => packets.GetValueOrDefault(name);
                var dropped = packets.Where(kv => kv.Key.StartsWith("dropped", StringComparison.Ordinal)).Sum(kv => kv.Value);
                Console.Out.WriteLine($"packets   {Count("packetsSent")} sent in {Count("batchesSent")} batches, {Count("packetsReceived")} received, {dropped} dropped");
            }

            Console.Out.WriteLine();
            Console.Out.Write(TextTable.Render(
                ["NETMOD", "VERSION", "STATE", "MAX FRAME", "IN", "OUT", "ERROR"],
                status.Netmods.Select(n => (IReadOnlyList<string>)[
                    n.Name,
                    n.Version,
                    n.State,
                    n.MaxFrameSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Bytes(n.Traffic.BytesIn),
                    Bytes(n.Traffic.BytesOut),
                    n.Error ?? ""])));
            Console.Out.WriteLine();
            PrintPeers(status.Peers);
            return 0;
        }));
        return command;
    }

    private static Command PeersCommand()
    {
        var command = new Command("peers", "List peers: configured, connecting and connected.") { JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var peers = await client.GetAsync("v1/peers", ApiJson.Default.IReadOnlyListPeerInfo, ct);
            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(peers, ApiJson.Default.IReadOnlyListPeerInfo));
            }
            else
            {
                PrintPeers(peers);
            }

            return 0;
        }));
        return command;
    }

    private static void PrintPeers(IReadOnlyList<PeerInfo> peers)
    {
        if (peers.Count == 0)
        {
            Console.Out.WriteLine("no peers");
            return;
        }

        Console.Out.Write(TextTable.Render(
            ["PEER", "NETMOD", "STATE", "ENDPOINT", "DIRECTION", "SINCE", "IN", "OUT", "LAST ERROR"],
            peers.Select(p => (IReadOnlyList<string>)[
                p.Address ?? "-",
                p.Netmod,
                p.State,
                p.Endpoint,
                p.Inbound ? "in" : "out",
                p.Since.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                p.Traffic is { } t ? Bytes(t.BytesIn) : "-",
                p.Traffic is { } u ? Bytes(u.BytesOut) : "-",
                p.LastError ?? ""])));
    }

    /// <summary>A byte count for people: 1,234 B, 12.3 KiB, 4.5 MiB, 6.7 GiB.</summary>
    internal static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    private static Command SendCommand()
    {
        var to = new Option<string>("--to") { Description = "Destination router address, or 'all' to flood to every router.", Required = true };
        var file = new Option<string?>("--file", "-f") { Description = "Send the contents of this file." };
        var text = new Argument<string?>("text") { Description = "Send this text (UTF-8).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("send", "Send a message to another router: TEXT or --file F.") { to, file, text, JsonOption };
        command.Validators.Add(result =>
        {
            var hasText = result.GetValue(text) is not null;
            var hasFile = result.GetValue(file) is not null;
            if (hasText == hasFile)
            {
                result.AddError("give either TEXT or --file F");
            }
        });
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var destination = parse.GetValue(to)!;
            if (destination != "all" && !RouterAddress.TryParse(destination, out _))
            {
                Console.Error.WriteLine($"router: '{destination}' is not a router address (64 hex digits, optionally grouped with '-')");
                return 1;
            }

            HttpContent content;
            if (parse.GetValue(file) is { } path)
            {
                if (!File.Exists(path))
                {
                    Console.Error.WriteLine($"router: file {path} does not exist");
                    return 1;
                }

                content = new StreamContent(File.OpenRead(path));
            }
            else
            {
                content = new ByteArrayContent(Encoding.UTF8.GetBytes(parse.GetValue(text)!));
            }

            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using (content)
            {
                var sent = await client.PostAsync($"v1/messages?to={Uri.EscapeDataString(destination)}", content, ApiJson.Default.SendResponse, ct);
                if (parse.GetValue(JsonOption))
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(sent, ApiJson.Default.SendResponse));
                }
                else
                {
                    Console.Out.WriteLine($"sent {sent.Bytes} bytes to {sent.To} (message {sent.MessageId})");
                }
            }

            return 0;
        }));
        return command;
    }

    private static Command ListenCommand()
    {
        var output = new Option<string?>("--out", "-o") { Description = "Write each message's payload bytes to this file (appending, in arrival order)." };
        var count = new Option<int?>("--count", "-n") { Description = "Exit after this many messages." };
        var command = new Command("listen", "Print messages arriving for this router until interrupted.") { JsonOption, output, count };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var limit = parse.GetValue(count);
            var outPath = parse.GetValue(output);
            var json = parse.GetValue(JsonOption);
            await using var stream = await client.OpenStreamAsync("v1/messages", ct);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            await using var outFile = outPath is null ? null : new FileStream(outPath, FileMode.Create, FileAccess.Write);
            if (!json)
            {
                Console.Error.WriteLine($"listening for messages to this router (via {client.SocketPath})...");
            }

            var received = 0;
            while (limit is null || received < limit)
            {
                var line = await reader.ReadLineAsync(ct);
                if (line is null)
                {
                    Console.Error.WriteLine("router: the router closed the stream (it stopped)");
                    return 1;
                }

                var message = JsonSerializer.Deserialize(line, ApiJson.Default.MessageRecord);
                if (message?.Payload is null)
                {
                    throw new JsonException("a message record without a payload");
                }

                received++;
                if (outFile is not null)
                {
                    await outFile.WriteAsync(message.Payload, ct);
                    await outFile.FlushAsync(ct);
                }

                if (json)
                {
                    Console.Out.WriteLine(line);
                }
                else
                {
                    Console.Out.WriteLine($"from {message.From}: {Describe(message.Payload, outFile is not null)}");
                }
            }

            return 0;
        }));
        return command;
    }

    private static Command RoutesCommand()
    {
        var command = new Command("routes", "Show the route table: destination, next hop, netmod, metric, seqno, age, announced prefixes.") { JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var routes = await client.GetAsync("v1/routes", ApiJson.Default.IReadOnlyListRouteInfo, ct);
            if (parse.GetValue(JsonOption))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(routes, ApiJson.Default.IReadOnlyListRouteInfo));
            }
            else if (routes.Count == 0)
            {
                Console.Out.WriteLine("no routes");
            }
            else
            {
                Console.Out.Write(TextTable.Render(
                    ["DESTINATION", "NEXT HOP", "NETMOD", "METRIC", "SEQNO", "AGE", "PREFIXES"],
                    routes.Select(r => (IReadOnlyList<string>)[r.Destination, r.NextHop, r.Netmod, Invariant(r.Metric), Invariant(r.Seqno), $"{Invariant(r.AgeSeconds)}s", string.Join(" ", r.Prefixes)])));
            }

            return 0;
        }));
        return command;
    }

    private static Command PingCommand()
    {
        var address = new Argument<string>("address") { Description = "Router address to ping." };
        var count = new Option<int>("--count", "-n") { Description = "Echo requests to send.", DefaultValueFactory = _ => 4 };
        var interval = new Option<double>("--interval", "-i") { Description = "Seconds between requests.", DefaultValueFactory = _ => 1 };
        var timeout = new Option<double>("--timeout", "-W") { Description = "Seconds to wait for each reply.", DefaultValueFactory = _ => 2 };
        var size = new Option<int>("--size", "-s") { Description = "Payload bytes per request.", DefaultValueFactory = _ => 56 };
        var command = new Command("ping", "Send mesh echo requests to a router and show the round-trip times.") { address, count, interval, timeout, size, JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var target = parse.GetValue(address)!;
            if (!RouterAddress.TryParse(target, out _))
            {
                Console.Error.WriteLine($"router: '{target}' is not a router address (64 hex digits, optionally grouped with '-')");
                return 1;
            }

            var json = parse.GetValue(JsonOption);
            var replies = new List<double>();
            var total = parse.GetValue(count);
            for (var i = 1; i <= total; i++)
            {
                var echo = await client.PostAsync(
                    $"v1/echo?to={Uri.EscapeDataString(target)}&timeoutMs={(int)(parse.GetValue(timeout) * 1000)}&size={parse.GetValue(size)}",
                    new ByteArrayContent([]), ApiJson.Default.EchoResponse, ct);
                if (json)
                {
                    Console.Out.WriteLine(JsonSerializer.Serialize(echo, ApiJson.Default.EchoResponse));
                }
                else
                {
                    Console.Out.WriteLine(echo.Result switch
                    {
                        "reply" => $"reply from {echo.From}: seq={i} time={Invariant(echo.RttMs)} ms",
                        "noRoute" => $"seq={i}: no route to {target}",
                        _ => $"seq={i}: no reply within {Invariant(parse.GetValue(timeout))} s",
                    });
                }

                if (echo.Result == "reply")
                {
                    replies.Add(echo.RttMs);
                }

                if (i < total)
                {
                    await Task.Delay(TimeSpan.FromSeconds(parse.GetValue(interval)), ct);
                }
            }

            if (!json)
            {
                var loss = 100.0 * (total - replies.Count) / Math.Max(1, total);
                Console.Out.WriteLine($"--- {target} ping: {total} sent, {replies.Count} received, {Invariant(Math.Round(loss, 1))}% loss" +
                    (replies.Count > 0 ? $", rtt min/avg/max {Invariant(replies.Min())}/{Invariant(Math.Round(replies.Average(), 3))}/{Invariant(replies.Max())} ms" : ""));
            }

            return replies.Count > 0 ? 0 : 1;
        }));
        return command;
    }

    private static Command TracerouteCommand()
    {
        var address = new Argument<string>("address") { Description = "Router address to trace." };
        var maxHops = new Option<int>("--max-hops", "-m") { Description = "Give up after this many hops.", DefaultValueFactory = _ => 30 };
        var timeout = new Option<double>("--timeout", "-W") { Description = "Seconds to wait for each hop.", DefaultValueFactory = _ => 2 };
        var command = new Command("traceroute", "Show each router on the path to another router, with round-trip times.") { address, maxHops, timeout, JsonOption };
        command.SetAction((parse, ct) => WithClient(parse, async client =>
        {
            var target = parse.GetValue(address)!;
            if (!RouterAddress.TryParse(target, out _))
            {
                Console.Error.WriteLine($"router: '{target}' is not a router address (64 hex digits, optionally grouped with '-')");
                return 1;
            }

            var json = parse.GetValue(JsonOption);
            var hops = new List<EchoResponse>();
            for (var hop = 1; hop <= parse.GetValue(maxHops); hop++)
            {
                var echo = await client.PostAsync(
                    $"v1/echo?to={Uri.EscapeDataString(target)}&hopLimit={hop}&timeoutMs={(int)(parse.GetValue(timeout) * 1000)}",
                    new ByteArrayContent([]), ApiJson.Default.EchoResponse, ct);
                hops.Add(echo);
                if (!json)
                {
                    Console.Out.WriteLine(echo.Result switch
                    {
                        "noRoute" => $"{hop,2}  no route to {target}",
                        "timeout" => $"{hop,2}  *",
                        _ => $"{hop,2}  {echo.From}  {Invariant(echo.RttMs)} ms",
                    });
                }

                if (echo.Result is "reply" or "noRoute")
                {
                    break;
                }
            }

            if (json)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(hops, ApiJson.Default.IReadOnlyListEchoResponse));
            }

            return hops.Count > 0 && hops[^1].Result == "reply" ? 0 : 1;
        }));
        return command;
    }

    private static string Invariant(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Shows a payload as text when it is printable UTF-8, else by size.</summary>
    private static string Describe(byte[] payload, bool written)
    {
        if (!written && payload.Length <= 4096)
        {
            try
            {
                var text = new UTF8Encoding(false, true).GetString(payload);
                if (!text.Any(c => char.IsControl(c) && c is not '\n' and not '\t' and not '\r'))
                {
                    return text;
                }
            }
            catch (DecoderFallbackException)
            {
            }
        }

        return $"{payload.Length} bytes{(written ? " (written to --out)" : " of binary data")}";
    }

    private static async Task<int> WithClient(ParseResult parse, Func<ApiClient, Task<int>> action)
    {
        string socket;
        try
        {
            socket = ResolveApiSocket(parse.GetValue(ApiOption), parse.GetValue(ConfigOption));
        }
        catch (ConfigurationException e)
        {
            Console.Error.WriteLine($"router: {e.Message}");
            return 1;
        }

        using var client = new ApiClient(socket);
        try
        {
            return await action(client);
        }
        catch (ApiException e)
        {
            Console.Error.WriteLine($"router: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            // Whatever answered on the socket sent a document we cannot read or print back
            // (the router never does; found by fuzzing the documents).
            Console.Error.WriteLine($"router: the API's answer is not a valid response: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
    }

    /// <summary>--api wins; else Router:ApiSocket from --config (or ./plugins.json), resolved like the router resolves it.</summary>
    internal static string ResolveApiSocket(string? api, string? config)
    {
        if (api is not null)
        {
            return Path.GetFullPath(api);
        }

        config ??= File.Exists("plugins.json")
            ? "plugins.json"
            : throw new ConfigurationException(["no router given: use --api PATH or --config FILE (no plugins.json in this folder)"]);
        var configuration = RouterConfiguration.Load(config, []);
        var problems = new List<string>();
        return configuration.ReadRouterOptions(problems).ApiSocket;
    }
}
