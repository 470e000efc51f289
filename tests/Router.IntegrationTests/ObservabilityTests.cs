using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Router.IntegrationTests;

/// <summary>Metrics at <c>/metrics</c>, JSON logs and log levels changed while running, on real router processes.</summary>
public sealed partial class ObservabilityTests : IAsyncLifetime
{
    private readonly TestMesh _mesh = new();
    private readonly List<RouterProcess> _routers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var router in _routers)
        {
            await router.DisposeAsync();
        }

        _mesh.Dispose();
    }

    private RouterProcess Router(string name, int port, params int[] peers)
    {
        var router = new RouterProcess(_mesh.Config(name, port, peerPorts: peers));
        _routers.Add(router);
        return router;
    }

    /// <summary>GET over the router's API socket, as Prometheus would through a socket-aware scraper.</summary>
    private static async Task<(string ContentType, string Body)> ScrapeAsync(RouterProcess router)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(router.ApiSocket), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { Timeout = TimeSpan.FromSeconds(20) };
        using var response = await http.GetAsync("http://router/metrics");
        response.EnsureSuccessStatusCode();
        return (response.Content.Headers.ContentType!.ToString(), await response.Content.ReadAsStringAsync());
    }

    private static double Sample(string scrape, string series)
    {
        var match = Regex.Match(scrape, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no series {series} in:\n{scrape}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Metrics_AfterAFileTransfer_CountFramesMessagesPeersAndRoutes()
    {
        var portA = TestMesh.FreePort();
        var a = Router("a", portA);
        var b = Router("b", TestMesh.FreePort(), portA);
        await a.StartAsync();
        await b.StartAsync();
        var addressB = await b.AddressAsync();
        await a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(20));
        await RouterProcess.WaitForAsync(() => a.HasRouteAsync(addressB), TimeSpan.FromSeconds(20), "a route to b");
        var (_, before) = await ScrapeAsync(b);

        var file = Path.Combine(_mesh.Root, "payload.bin");
        await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(300_000));
        await Transfer.FileAsync(file, Path.Combine(_mesh.Root, "received.bin"), from: a, to: b, addressB);
        var (contentType, after) = await ScrapeAsync(b);

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", contentType);
        Assert.Contains("# TYPE router_frames_received_total counter\n", after, StringComparison.Ordinal);

        // 300 kB in slices of at most 128 KiB: at least three more frames received and delivered.
        Assert.True(Sample(after, "router_frames_received_total") >= Sample(before, "router_frames_received_total") + 3, after);
        Assert.True(Sample(after, "router_frames_delivered_total") >= Sample(before, "router_frames_delivered_total") + 3, after);
        Assert.True(Sample(after, "router_messages_delivered_total") >= Sample(before, "router_messages_delivered_total") + 1, after);
        Assert.Equal(1, Sample(after, "router_peers{netmod=\"inet\",state=\"up\"}"));
        Assert.Equal(1, Sample(after, "router_netmod_running{netmod=\"inet\"}"));
        Assert.Equal(1, Sample(after, "router_routes"));
        Assert.True(Sample(after, "router_link_handshakes_total") >= 1, after);

        // Link traffic: the file crossed B's inet netmod and its one link, inward.
        var addressA = await a.AddressAsync();
        Assert.True(Sample(after, "router_netmod_bytes_total{direction=\"in\",netmod=\"inet\"}") >= Sample(before, "router_netmod_bytes_total{direction=\"in\",netmod=\"inet\"}") + 300_000, after);
        Assert.True(Sample(after, "router_netmod_frames_total{direction=\"in\",netmod=\"inet\"}") >= Sample(before, "router_netmod_frames_total{direction=\"in\",netmod=\"inet\"}") + 3, after);
        Assert.True(Sample(after, $"router_peer_bytes_total{{direction=\"in\",netmod=\"inet\",peer=\"{addressA}\"}}") >= 300_000, after);
        Assert.Equal(0, Sample(after, "router_netmod_dropped_total{netmod=\"inet\",reason=\"noRoute\"}"));

        // B dialled A: A's inet netmod counted the connection it accepted.
        var (_, scrapeA) = await ScrapeAsync(a);
        Assert.True(Sample(scrapeA, "router_netmod_events_total{event=\"inboundAccepted\",netmod=\"inet\"}") >= 1, scrapeA);
        Assert.True(Sample(scrapeA, $"router_peer_bytes_total{{direction=\"out\",netmod=\"inet\",peer=\"{addressB}\"}}") >= 300_000, scrapeA);

        // The same numbers in the peers document (router peers --json).
        var peer = (await a.StatusAsync()).GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("address").GetString() == addressB);
        Assert.True(peer.GetProperty("traffic").GetProperty("bytesOut").GetInt64() >= 300_000, peer.ToString());
        Assert.True(peer.GetProperty("traffic").GetProperty("framesIn").GetInt64() >= 1, peer.ToString());
        Assert.Equal(1, Sample(after, $"router_info{{address=\"{addressB}\",sdk_version=\"{(await b.StatusAsync()).GetProperty("sdkVersion").GetString()}\",version=\"{(await b.StatusAsync()).GetProperty("version").GetString()}\"}}"));
    }

    [Fact]
    public async Task LogFormatJson_Start_EveryLineIsAJsonObjectWithItsEventId()
    {
        var router = Router("json", TestMesh.FreePort());

        await router.StartAsync("--Router:LogFormat", "json");

        var lines = router.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        var entries = lines.Select(line =>
        {
            try
            {
                return JsonDocument.Parse(line).RootElement;
            }
            catch (JsonException e)
            {
                throw new Xunit.Sdk.XunitException($"not a JSON log line: {line} ({e.Message})");
            }
        }).ToList();
        Assert.All(entries, e =>
        {
            Assert.Equal(JsonValueKind.Number, e.GetProperty("EventId").ValueKind);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("Category").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("LogLevel").GetString()));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("Timestamp").GetString()));
        });
        var ready = Assert.Single(entries, e => e.GetProperty("EventId").GetInt32() == 2);
        Assert.Equal("Router", ready.GetProperty("Category").GetString());
        Assert.Equal(router.ApiSocket, ready.GetProperty("State").GetProperty("ApiSocket").GetString());
    }

    [Fact]
    public async Task Check_UnknownLogFormat_IsReportedAndExitsOne()
    {
        var router = Router("badformat", TestMesh.FreePort());

        var code = await router.RunToExitAsync("--check", "--Router:LogFormat", "xml");

        Assert.Equal(1, code);
        Assert.Contains("Router:LogFormat: 'xml' is not a log format; use text or json.", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogLevel_ChangedWhileRunning_TakesEffectAtOnceAndResets()
    {
        // Neighbour up/down (events 1201, 1202) are logged at Information by Router.Hosting.NetmodHost.
        const string Category = "Router.Hosting.NetmodHost";
        var portA = TestMesh.FreePort();
        var a = Router("a", portA);
        var b = Router("b", TestMesh.FreePort(), portA);
        await a.StartAsync($"--Logging:LogLevel:{Category}", "Warning");
        await b.StartAsync();
        var addressB = await b.AddressAsync();
        await a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        Assert.DoesNotContain("Neighbour up", a.Output, StringComparison.Ordinal);

        var set = await Cli.RunAsync("log-level", "Information", "--category", Category, "--api", a.ApiSocket, "--json");
        Assert.True(set.ExitCode == 0, set.Stderr);
        var levels = JsonDocument.Parse(set.Stdout).RootElement;
        Assert.Equal("Warning", levels.GetProperty("configured").GetProperty(Category).GetString());
        Assert.Equal("Information", levels.GetProperty("overrides").GetProperty(Category).GetString());

        await b.StopAsync();
        await RouterProcess.WaitForAsync(() => a.Output.Contains("Neighbour down", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the neighbour-down line at the new level");

        var reset = await Cli.RunAsync("log-level", "--reset", "--api", a.ApiSocket);
        Assert.True(reset.ExitCode == 0, reset.Stderr);
        Assert.Contains($"{Category}  Warning  configuration", reset.Stdout, StringComparison.Ordinal);
        await b.StartAsync();
        await a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        Assert.DoesNotContain("Neighbour up", a.Output, StringComparison.Ordinal);

        var bad = await Cli.RunAsync("log-level", "Verbose", "--api", a.ApiSocket);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("'Verbose' is not a log level", bad.Stderr, StringComparison.Ordinal);
    }
}
