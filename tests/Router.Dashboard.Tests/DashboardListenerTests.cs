using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Router.IntegrationTests;

namespace Router.Dashboard.Tests;

/// <summary>
/// The dashboard's TCP listener on a real router process: where it listens, what it refuses,
/// what it streams, and what happens when it is off or its port is taken.
/// </summary>
public sealed class DashboardListenerTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly TestMesh _mesh = new();

    [Fact]
    public async Task Listen_NotConfigured_LoopbackOnDefaultPort()
    {
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort()));
        await router.StartAsync();

        // Another router on this machine may hold the default port; either way the log names the address tried.
        const string Serving = "Dashboard on http://127.0.0.1:5880/";
        await RouterProcess.WaitForAsync(() => router.Output.Contains(Serving, StringComparison.Ordinal) || router.Output.Contains("Dashboard cannot listen on 127.0.0.1:5880", StringComparison.Ordinal), Wait, "the dashboard to start or report its port taken");
        if (!router.Output.Contains(Serving, StringComparison.Ordinal))
        {
            return;
        }

        // Only loopback listens on 5880: no IPv4 wildcard or other address, nothing on IPv6.
        Assert.Equal(["0100007F"], ListeningAddresses("/proc/net/tcp", 5880));
        Assert.Empty(ListeningAddresses("/proc/net/tcp6", 5880));
        using var client = new DashboardClient(5880);
        var snapshot = await client.SnapshotAsync();
        Assert.Equal(await router.AddressAsync(), snapshot.GetProperty("status").GetProperty("address").GetString());
    }

    [Fact]
    public async Task ControlApiPaths_OnDashboardPort_NotFound()
    {
        var port = TestMesh.FreePort();
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: DashboardClient.On(port)));
        await router.StartAsync();
        using var client = new DashboardClient(port);
        var address = await router.AddressAsync();

        Assert.Equal(HttpStatusCode.OK, await client.StatusOfAsync(HttpMethod.Get, "api/snapshot"));
        foreach (var path in new[] { "v1/status", "v1/peers", "v1/routes", "v1/messages", "v1/plugins" })
        {
            Assert.Equal(HttpStatusCode.NotFound, await client.StatusOfAsync(HttpMethod.Get, path));
        }

        foreach (var path in new[] { "v1/messages?to=all", $"v1/messages?to={address}", $"v1/echo?to={address}", "v1/reload", "v1/plugins/inet/unload", "v1/log-level?level=Trace" })
        {
            Assert.Equal(HttpStatusCode.NotFound, await client.StatusOfAsync(HttpMethod.Post, path));
        }

        // Prometheus may scrape the dashboard's address.
        using (var metrics = await client.Http.GetAsync("metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
            Assert.Contains("# TYPE router_frames_received", await metrics.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The page's own paths take GET only.
        Assert.Equal(HttpStatusCode.MethodNotAllowed, await client.StatusOfAsync(HttpMethod.Post, "api/snapshot"));

        // The control API itself is untouched on its socket.
        Assert.Equal(address, (await router.StatusAsync()).GetProperty("address").GetString());
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("evil.example:{port}")]
    [InlineData("127.0.0.1.nip.io:{port}")]
    [InlineData("10.1.2.3:{port}")]
    public async Task Host_Foreign_BadRequest(string host)
    {
        var port = TestMesh.FreePort();
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: DashboardClient.On(port)));
        await router.StartAsync();
        using var client = new DashboardClient(port);

        host = host.Replace("{port}", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, await client.StatusOfAsync(HttpMethod.Get, "", host));
        Assert.Equal(HttpStatusCode.BadRequest, await client.StatusOfAsync(HttpMethod.Get, "api/snapshot", host));
        Assert.Equal(HttpStatusCode.BadRequest, await client.StatusOfAsync(HttpMethod.Get, "api/events", host));

        foreach (var ours in new[] { $"127.0.0.1:{port}", $"localhost:{port}", "localhost", $"[::1]:{port}", $"127.0.0.2:{port}" })
        {
            Assert.Equal(HttpStatusCode.OK, await client.StatusOfAsync(HttpMethod.Get, "api/snapshot", ours));
        }
    }

    [Fact]
    public async Task Host_InAllowedHosts_Served()
    {
        var port = TestMesh.FreePort();
        var dashboard = $$""", "Dashboard": { "Listen": "127.0.0.1:{{port}}", "AllowedHosts": ["router.example.org"] }""";
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: dashboard));
        await router.StartAsync();
        using var client = new DashboardClient(port);

        Assert.Equal(HttpStatusCode.OK, await client.StatusOfAsync(HttpMethod.Get, "api/snapshot", $"router.example.org:{port}"));
        Assert.Equal(HttpStatusCode.BadRequest, await client.StatusOfAsync(HttpMethod.Get, "api/snapshot", $"other.example.org:{port}"));
    }

    [Fact]
    public async Task Page_Get_SelfContainedWithStrictPolicy()
    {
        var port = TestMesh.FreePort();
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: DashboardClient.On(port)));
        await router.StartAsync();
        using var client = new DashboardClient(port);

        using var response = await client.Http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<svg id=\"graph\"", html, StringComparison.Ordinal);

        // Nothing is fetched from anywhere else: no external URL in the page, and the policy forbids it.
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        var policy = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("script-src 'sha256-", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.Equal("DENY", string.Join(' ', response.Headers.GetValues("X-Frame-Options")));
    }

    [Fact]
    public async Task Events_Stream_SnapshotAboutEverySecond()
    {
        var port = TestMesh.FreePort();
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: DashboardClient.On(port)));
        await router.StartAsync();
        using var client = new DashboardClient(port);
        var address = await router.AddressAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var response = await client.Http.GetAsync("api/events", HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(timeout.Token));

        var times = new List<DateTimeOffset>();
        string? eventName = null;
        while (times.Count < 3)
        {
            var line = await reader.ReadLineAsync(timeout.Token) ?? throw new EndOfStreamException("the event stream ended");
            if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                eventName = line["event: ".Length..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                Assert.Equal("snapshot", eventName);
                var snapshot = JsonDocument.Parse(line["data: ".Length..]).RootElement;
                Assert.Equal(address, snapshot.GetProperty("status").GetProperty("address").GetString());
                var local = Assert.Single(snapshot.GetProperty("topology").GetProperty("nodes").EnumerateArray());
                Assert.Equal("local", local.GetProperty("role").GetString());
                times.Add(snapshot.GetProperty("at").GetDateTimeOffset());
            }
        }

        // Snapshots are fresh ones, spaced by the one-second tick (with slack for a busy machine).
        for (var i = 1; i < times.Count; i++)
        {
            var gap = times[i] - times[i - 1];
            Assert.InRange(gap.TotalSeconds, 0.5, 3);
        }
    }

    [Fact]
    public async Task Enabled_False_NothingListens()
    {
        var port = TestMesh.FreePort();
        var dashboard = $$""", "Dashboard": { "Enabled": false, "Listen": "127.0.0.1:{{port}}" }""";
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: dashboard));
        await router.StartAsync();

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await socket.ConnectAsync(IPAddress.Loopback, port));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.DoesNotContain("Dashboard", router.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listen_PortTaken_OneErrorAndRouterRuns()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        var peerPort = TestMesh.FreePort();
        await using var peer = new RouterProcess(_mesh.Config("b", peerPort, routerExtra: DashboardClient.Off));
        await peer.StartAsync();
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), peerPorts: [peerPort], routerExtra: DashboardClient.On(port)));
        await router.StartAsync();

        var error = $"Dashboard cannot listen on 127.0.0.1:{port}";
        await RouterProcess.WaitForAsync(() => router.Output.Contains(error, StringComparison.Ordinal), Wait, "the dashboard error");
        Assert.Single(router.Output.Split('\n'), line => line.Contains("Dashboard", StringComparison.Ordinal));
        Assert.Contains("Router:Dashboard:Listen", router.Output, StringComparison.Ordinal);

        // The router carries on: API up, links up.
        Assert.False(router.HasExited);
        await router.WaitForPeerUpAsync(await peer.AddressAsync(), Wait);
    }

    [Fact]
    public async Task Check_BadDashboardSettings_EveryProblemListed()
    {
        var dashboard = """, "HopLimit": 0, "Dashboard": { "Enabled": "sometimes", "Listen": "localhost:5880", "Port": 1, "AllowedHosts": ["http://x/"] }""";
        var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), routerExtra: dashboard));
        await using (router)
        {
            Assert.Equal(1, await router.RunToExitAsync("--check"));
        }

        var output = router.Output;
        Assert.Contains("Router:HopLimit", output, StringComparison.Ordinal);
        Assert.Contains("Router:Dashboard:Enabled: 'sometimes' is not true or false", output, StringComparison.Ordinal);
        Assert.Contains("Router:Dashboard:Listen: 'localhost:5880' is not an IP address and port", output, StringComparison.Ordinal);
        Assert.Contains("Router:Dashboard:Port: unknown key", output, StringComparison.Ordinal);
        Assert.Contains("Router:Dashboard:AllowedHosts:0: 'http://x/' is not a host name", output, StringComparison.Ordinal);
        Assert.Contains("5 problems", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Snapshot_TwoRouters_PeerWithRttRouteAndGraph()
    {
        var port = TestMesh.FreePort();
        var portA = TestMesh.FreePort();
        await using var a = new RouterProcess(_mesh.Config("a", portA, routerExtra: DashboardClient.FastRouting + DashboardClient.On(port)));
        await using var b = new RouterProcess(_mesh.Config("b", TestMesh.FreePort(), peerPorts: [portA], routerExtra: DashboardClient.FastRouting + DashboardClient.Off));
        await Task.WhenAll(a.StartAsync(), b.StartAsync());
        var addressA = await a.AddressAsync();
        var addressB = await b.AddressAsync();
        using var client = new DashboardClient(port);

        JsonElement snapshot = default;
        await RouterProcess.WaitForAsync(
            async () =>
            {
                snapshot = await client.SnapshotAsync();
                return snapshot.GetProperty("links").EnumerateArray().Any(l => l.GetProperty("address").GetString() == addressB && l.GetProperty("rttMs").ValueKind == JsonValueKind.Number)
                    && snapshot.GetProperty("routes").EnumerateArray().Any(r => r.GetProperty("destination").GetString() == addressB);
            },
            Wait,
            "B's link measured and routed in A's snapshot");

        var link = snapshot.GetProperty("links").EnumerateArray().Single(l => l.GetProperty("address").GetString() == addressB);
        Assert.Equal("inet", link.GetProperty("netmod").GetString());
        Assert.InRange(link.GetProperty("rttMs").GetDouble(), 0, 1000);
        Assert.True(link.GetProperty("cost").GetInt32() > 0);

        var peer = snapshot.GetProperty("status").GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("address").GetString() == addressB);
        Assert.Equal("up", peer.GetProperty("state").GetString());
        var netmod = Assert.Single(snapshot.GetProperty("status").GetProperty("netmods").EnumerateArray());
        Assert.Equal("running", netmod.GetProperty("state").GetString());

        var nodes = snapshot.GetProperty("topology").GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("address").GetString()!, n => n.GetProperty("role").GetString());
        Assert.Equal(new Dictionary<string, string?> { [addressA] = "local", [addressB] = "neighbour" }, nodes);
        var edge = Assert.Single(snapshot.GetProperty("topology").GetProperty("edges").EnumerateArray());
        Assert.Equal((addressA, addressB, "link"), (edge.GetProperty("from").GetString(), edge.GetProperty("to").GetString(), edge.GetProperty("kind").GetString()));
    }

    /// <summary>Local addresses (hex, as in /proc) of TCP sockets listening on <paramref name="port"/>.</summary>
    private static List<string> ListeningAddresses(string table, int port)
    {
        var suffix = ":" + port.ToString("X4", CultureInfo.InvariantCulture);
        return File.ReadLines(table).Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 3 && f[3] == "0A" && f[1].EndsWith(suffix, StringComparison.Ordinal))
            .Select(f => f[1][..^suffix.Length])
            .ToList();
    }

    public void Dispose() => _mesh.Dispose();
}
