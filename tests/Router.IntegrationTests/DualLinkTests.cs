using System.Diagnostics;
using Router.IntegrationTests.Netns;
using Xunit.Abstractions;

namespace Router.IntegrationTests;

/// <summary>
/// Two real routers linked twice, by inet (TCP) and by udp, inside a network namespace the
/// test creates. nftables in that namespace degrades or cuts one link type at a time: the
/// route between the routers must take the better link and fail over to the other.
/// </summary>
public sealed class DualLinkTests : IAsyncLifetime
{
    private const int InetA = 5860, UdpA = 5861, InetB = 5870, UdpB = 5871;

    // Both tcp directions of both inet listeners: the established connection goes silent too.
    private static readonly string CutInet = $$"""
        table inet faults {
          chain input {
            type filter hook input priority 0; policy accept;
            tcp dport { {{InetA}}, {{InetB}} } drop
            tcp sport { {{InetA}}, {{InetB}} } drop
          }
        }
        """;

    private static readonly string LossyUdp = $$"""
        table inet faults {
          chain input {
            type filter hook input priority 0; policy accept;
            udp dport { {{UdpA}}, {{UdpB}} } numgen random mod 100 < 60 drop
          }
        }
        """;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly TestMesh _mesh = new();
    private readonly ITestOutputHelper _output;
    private NetworkNamespace? _ns;
    private RouterProcess? _a;
    private RouterProcess? _b;

    public DualLinkTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public async Task InitializeAsync()
    {
        if (new NetnsFactAttribute().Skip is not null)
        {
            return;
        }

        _ns = await NetworkNamespace.CreateAsync("dual");

        // Start with inet cut, so the first route can only be the udp one.
        await _ns.SetFirewallAsync(CutInet);
        _a = new RouterProcess(Config("a", InetA, UdpA, peers: null), _ns.Name);
        _b = new RouterProcess(Config("b", InetB, UdpB, peers: (InetA, UdpA)), _ns.Name);
        await Task.WhenAll(_a.StartAsync(), _b.StartAsync());
    }

    public async Task DisposeAsync()
    {
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }

        if (_a is not null)
        {
            await _a.DisposeAsync();
        }

        if (_ns is not null)
        {
            await _ns.DisposeAsync();
        }

        _mesh.Dispose();
    }

    [NetnsFact]
    public async Task InetAndUdp_RouteTakesTheBetterLink_AndFailsOverWhenItIsCut()
    {
        var (a, b) = (_a!, _b!);
        var addressB = await b.AddressAsync();
        var addressA = await a.AddressAsync();

        // Only udp works: the route is over udp, and traffic flows.
        await WaitForNetmodAsync(a, addressB, "udp");
        await PingAsync(a, addressB);

        // inet comes up, udp loses 60 % of its packets: the route moves to inet, both ways. (At
        // 40 % the loss factor of udp's cost, counted over 16 hellos, was at times small enough
        // that inet's round-trip time on a machine loaded by parallel test runs outweighed it.)
        await _ns!.SetFirewallAsync(LossyUdp);
        await WaitForNetmodAsync(a, addressB, "inet");
        await WaitForNetmodAsync(b, addressA, "inet");
        await PingAsync(a, addressB);

        // ...and stays there while udp keeps losing (no flapping back to the worse link).
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal("inet", await RouteNetmodAsync(a, addressB));
            await Task.Delay(250);
        }

        // inet is cut, udp is clean again: fail over to udp.
        await _ns.SetFirewallAsync(CutInet);
        var failover = Stopwatch.StartNew();
        await WaitForNetmodAsync(a, addressB, "udp");
        failover.Stop();
        _output.WriteLine($"failover from inet to udp took {failover.Elapsed.TotalSeconds:F1} s (hello interval 0.5 s)");
        Assert.True(failover.Elapsed < TimeSpan.FromSeconds(10), $"failover took {failover.Elapsed.TotalSeconds:F1} s");
        await PingAsync(a, addressB);

        // Everything restored: both links up again and traffic still flows.
        await _ns.ClearFirewallAsync();
        await RouterProcess.WaitForAsync(async () => (await PeerNetmodsUpAsync(a, addressB)).Count == 2, Limit, "both links back up");
        await PingAsync(a, addressB);
        await PingAsync(b, addressA);
    }

    private static async Task WaitForNetmodAsync(RouterProcess router, string destination, string netmod) =>
        await RouterProcess.WaitForAsync(
            async () => (await router.RoutesAsync()).Any(r => r.GetProperty("destination").GetString() == destination && r.GetProperty("netmod").GetString() == netmod),
            Limit,
            $"the route to {destination} to go over {netmod}");

    private static async Task<string?> RouteNetmodAsync(RouterProcess router, string destination) =>
        (await router.RoutesAsync()).Where(r => r.GetProperty("destination").GetString() == destination)
            .Select(r => r.GetProperty("netmod").GetString()).FirstOrDefault();

    private static async Task<HashSet<string>> PeerNetmodsUpAsync(RouterProcess router, string address) =>
        (await router.StatusAsync()).GetProperty("peers").EnumerateArray()
            .Where(p => p.GetProperty("address").GetString() == address && p.GetProperty("state").GetString() == "up")
            .Select(p => p.GetProperty("netmod").GetString()!)
            .ToHashSet();

    private async Task PingAsync(RouterProcess from, string to)
    {
        var ping = await Cli.RunAsync("ping", to, "--api", from.ApiSocket, "--count", "3", "--interval", "0.1");
        Assert.True(ping.ExitCode == 0, $"{ping.Stdout}{ping.Stderr}\n--- router a:\n{_a!.Output}\n--- router b:\n{_b!.Output}");
    }

    private string Config(string name, int inetPort, int udpPort, (int Inet, int Udp)? peers)
    {
        var dir = Path.Combine(_mesh.Root, name);
        Directory.CreateDirectory(dir);
        var timers = """
            "KeepaliveSeconds": 0.5, "DeadPeerTimeoutSeconds": 3, "ReconnectMinSeconds": 0.2, "ReconnectMaxSeconds": 1
            """;
        var json = $$"""
            {
              "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock", "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2 },
              "Netmods": {
                "inet": { "Enabled": true, "Listen": ["127.0.0.1:{{inetPort}}"], "Peers": [{{(peers is { } p ? $"\"127.0.0.1:{p.Inet}\"" : "")}}], {{timers}} },
                "udp": { "Enabled": true, "Listen": ["127.0.0.1:{{udpPort}}"], "Peers": [{{(peers is { } q ? $"\"127.0.0.1:{q.Udp}\"" : "")}}], "Discovery": false, {{timers}} }
              }
            }
            """;
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, json);
        return path;
    }
}
