using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Router.IntegrationTests.Netns;
using Xunit.Abstractions;

namespace Router.IntegrationTests;

/// <summary>
/// Unmodified IP programs across real routers with the tun netmod, each router in its own
/// network namespace (created and removed by the test), the namespaces joined by veth pairs:
/// ping and ping -6 between overlay addresses and announced IPv4 prefixes, an HTTP download of
/// 50 MB with python's http.server and curl (SHA-256 compared) over inet and over udp, and a
/// line A—B—C where A reaches C through B and traffic resumes by itself after B's link to C
/// goes down and comes back. Needs root, iproute2, ping, curl and python3 (.ci/run installs them).
/// </summary>
[Collection(NetnsCollection.Name)]
public sealed class IpOverMeshTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly TestMesh _mesh = new();
    private readonly List<IAsyncDisposable> _cleanup = [];
    private readonly ITestOutputHelper _output;

    public IpOverMeshTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Programs and routers first, then the namespaces they ran in.
        for (var i = _cleanup.Count - 1; i >= 0; i--)
        {
            await _cleanup[i].DisposeAsync();
        }

        _mesh.Dispose();
    }

    private async Task<NetworkNamespace> NamespaceAsync(string name)
    {
        var ns = await NetworkNamespace.CreateAsync(name);
        _cleanup.Add(ns);
        return ns;
    }

    private async Task<RouterProcess> StartRouterAsync(NetworkNamespace ns, string name, string netmod, string? peer, string? tun)
    {
        var dir = Path.Combine(_mesh.Root, name);
        Directory.CreateDirectory(dir);
        var timers = """
            "KeepaliveSeconds": 0.5, "DeadPeerTimeoutSeconds": 3, "ReconnectMinSeconds": 0.2, "ReconnectMaxSeconds": 1
            """;
        var port = netmod == "inet" ? 5860 : 5861;
        var json = $$"""
            {
              "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock", "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2 },
              "Netmods": {
                "{{netmod}}": { "Enabled": true, "Listen": ["0.0.0.0:{{port}}"], "Peers": [{{(peer is null ? "" : $"\"{peer}:{port}\"")}}], {{(netmod == "udp" ? "\"Discovery\": false, " : "")}}{{timers}} },
                "tun": { "Enabled": {{(tun is null ? "false" : "true")}}, "Name": "mesh0"{{(tun is null ? "" : ", " + tun)}} }
              }
            }
            """;
        var path = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(path, json);
        var router = new RouterProcess(path, ns.Name);
        _cleanup.Add(router);
        await router.StartAsync();
        var tunState = (await router.StatusAsync()).GetProperty("netmods").EnumerateArray().FirstOrDefault(n => n.GetProperty("name").GetString() == "tun");
        if (tun is not null)
        {
            Assert.True(tunState.GetProperty("state").GetString() == "running", $"the tun netmod is not running:\n{router.Output}");
        }

        return router;
    }

    private static async Task<string> OverlayAddressAsync(RouterProcess router) =>
        (await router.StatusAsync()).GetProperty("overlay").GetProperty("address").GetString()!;

    /// <summary>Pings until one reply arrives (routes may still be forming), then asserts three in a row.</summary>
    private async Task PingAsync(NetworkNamespace from, string address)
    {
        var family = address.Contains(':', StringComparison.Ordinal) ? "-6" : "-4";
        await RouterProcess.WaitForAsync(
            async () => (await NetnsProcess.RunAsync(from.Name, TimeSpan.FromSeconds(5), "ping", family, "-c", "1", "-W", "1", address)).ExitCode == 0,
            Limit,
            $"a ping reply from {address}");
        var (code, output) = await NetnsProcess.RunAsync(from.Name, TimeSpan.FromSeconds(10), "ping", family, "-c", "3", "-i", "0.2", "-W", "2", address);
        _output.WriteLine(output);
        Assert.True(code == 0, $"ping {address} from {from.Name}:\n{output}");
    }

    [NetnsFact]
    public Task TwoRouters_OverInet_PingAndA50MegabyteDownload() => TwoRoutersAsync("inet");

    [NetnsFact]
    public Task TwoRouters_OverUdp_PingAndA50MegabyteDownload() => TwoRoutersAsync("udp");

    private async Task TwoRoutersAsync(string netmod)
    {
        var nsA = await NamespaceAsync("ipa");
        var nsB = await NamespaceAsync("ipb");
        await Veth.CreateAsync(nsA, "veth-a", "10.200.0.1", nsB, "veth-b", "10.200.0.2");
        var b = await StartRouterAsync(nsB, "b", netmod, peer: null, tun: """ "Addresses": ["10.66.2.1/24"], "Prefixes": ["10.66.2.0/24"] """);
        var a = await StartRouterAsync(nsA, "a", netmod, peer: "10.200.0.2", tun: """ "Addresses": ["10.66.1.1/24"], "Prefixes": ["10.66.1.0/24"] """);
        var overlayB = await OverlayAddressAsync(b);

        // Started with `ip netns exec`, each router finds its namespace's /sys and has the kernel
        // merge the TCP segments it writes (GRO, 4 ms by default; netmods/tun/README.md).
        foreach (var (ns, router) in new[] { (nsA, a), (nsB, b) })
        {
            var (groCode, gro) = await NetnsProcess.RunAsync(ns.Name, TimeSpan.FromSeconds(5), "cat", "/sys/class/net/mesh0/gro_flush_timeout");
            Assert.True(groCode == 0 && gro.Trim() == "4000000", $"gro_flush_timeout in {ns.Name}: {gro}\n{router.Output}");
        }

        await PingAsync(nsA, overlayB);
        await PingAsync(nsA, "10.66.2.1");
        await PingAsync(nsB, await OverlayAddressAsync(a));

        // An overlay address no router has fails at once, as from a router with no route to it.
        var (lostCode, lostOutput) = await NetnsProcess.RunAsync(nsA.Name, TimeSpan.FromSeconds(10), "ping", "-6", "-c", "1", "-W", "2", "fd6d:dead::1");
        Assert.NotEqual(0, lostCode);
        Assert.Contains("Destination unreachable: No route", lostOutput, StringComparison.Ordinal);

        // 50 MB of random bytes served by B, fetched by A over B's overlay address.
        var served = Path.Combine(_mesh.Root, "served");
        Directory.CreateDirectory(served);
        var data = new byte[50 * 1024 * 1024];
        Random.Shared.NextBytes(data);
        await File.WriteAllBytesAsync(Path.Combine(served, "data.bin"), data);
        var server = NetnsProcess.Start(nsB.Name, "python3", "-m", "http.server", "8080", "--bind", "::", "--directory", served);
        _cleanup.Add(server);
        var url = $"http://[{overlayB}]:8080/data.bin";
        await RouterProcess.WaitForAsync(
            async () => (await NetnsProcess.RunAsync(nsA.Name, TimeSpan.FromSeconds(5), "curl", "-sS", "-g", "-I", url)).ExitCode == 0,
            Limit,
            $"the HTTP server at {url}");

        var fetched = Path.Combine(_mesh.Root, "fetched.bin");
        var clock = Stopwatch.StartNew();
        var (code, output) = await NetnsProcess.RunAsync(nsA.Name, TimeSpan.FromSeconds(120), "curl", "-sS", "-g", "--max-time", "110", "-o", fetched, url);
        clock.Stop();
        Assert.True(code == 0, $"curl failed ({code}): {output}\nA:\n{a.Output}\nB:\n{b.Output}");
        Assert.Equal(Convert.ToHexString(SHA256.HashData(data)), Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(fetched))));

        // People see the overlay address, the interface and the packet counts in `router status`.
        var shown = await Cli.RunAsync("status", "--api", b.ApiSocket);
        Assert.Contains($"overlay   {overlayB} on tun", shown.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"packets   [1-9]\d* sent in [1-9]\d* batches, [1-9]\d* received", shown.Stdout);
        _output.WriteLine($"50 MB over {netmod} in {clock.Elapsed.TotalSeconds:F2} s ({data.Length * 8 / clock.Elapsed.TotalSeconds / 1e6:F0} Mbit/s, debug-free Release build, both routers on one 2-core machine)");
    }

    [NetnsFact]
    public async Task Line_AReachesCThroughB_AndTrafficResumesAfterBsLinkGoesDownAndUp()
    {
        var nsA = await NamespaceAsync("la");
        var nsB = await NamespaceAsync("lb");
        var nsC = await NamespaceAsync("lc");
        await Veth.CreateAsync(nsA, "veth-ab", "10.201.0.1", nsB, "veth-ba", "10.201.0.2");
        await Veth.CreateAsync(nsB, "veth-bc", "10.202.0.2", nsC, "veth-cb", "10.202.0.3");

        // B only relays: no IP interface of its own. A and C each serve an IPv4 prefix.
        var b = await StartRouterAsync(nsB, "b", "inet", peer: null, tun: null);
        var a = await StartRouterAsync(nsA, "a", "inet", peer: "10.201.0.2", tun: """ "Addresses": ["10.66.1.1/24"], "Prefixes": ["10.66.1.0/24"] """);
        var c = await StartRouterAsync(nsC, "c", "inet", peer: "10.202.0.2", tun: """ "Addresses": ["10.66.3.1/24"], "Prefixes": ["10.66.3.0/24"] """);
        var overlayC = await OverlayAddressAsync(c);

        await PingAsync(nsA, overlayC);
        await PingAsync(nsA, "10.66.3.1");

        // A's kernel routes C's prefix into the mesh (the tun netmod installed it).
        var routes = await Ip.RunAsync("-n", nsA.Name, "-4", "route", "show", "dev", "mesh0");
        Assert.Contains("10.66.3.0/24", routes, StringComparison.Ordinal);
        var addressC = await c.AddressAsync();
        Assert.Equal(["10.66.3.0/24"], (await a.RoutesAsync()).Single(r => r.GetProperty("destination").GetString() == addressC).GetProperty("prefixes").EnumerateArray().Select(p => p.GetString()));

        // B's link to C goes down: C becomes unreachable, and its prefix route goes away at A.
        await Ip.RunAsync("-n", nsB.Name, "link", "set", "veth-bc", "down");
        await RouterProcess.WaitForAsync(
            async () => !(await Ip.RunAsync("-n", nsA.Name, "-4", "route", "show", "dev", "mesh0")).Contains("10.66.3.0/24", StringComparison.Ordinal),
            Limit,
            "C's prefix withdrawn at A");
        var (down, _) = await NetnsProcess.RunAsync(nsA.Name, TimeSpan.FromSeconds(5), "ping", "-4", "-c", "1", "-W", "1", "10.66.3.1");
        Assert.NotEqual(0, down);

        // ...and up again: no one touches the routers, and traffic resumes.
        await Ip.RunAsync("-n", nsB.Name, "link", "set", "veth-bc", "up");
        var resumed = Stopwatch.StartNew();
        await PingAsync(nsA, "10.66.3.1");
        await PingAsync(nsA, overlayC);
        _output.WriteLine($"traffic resumed {resumed.Elapsed.TotalSeconds:F1} s after the link came back");
        var status = await b.StatusAsync();
        Assert.True(status.GetProperty("counters").GetProperty("framesForwarded").GetInt64() > 0);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("overlay").GetProperty("interface").ValueKind);
    }
}

/// <summary>Tests that build namespaces and run routers in them run one at a time (they share ports inside separate namespaces, but not CPU).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NetnsCollection
{
    public const string Name = "network namespaces";
}
