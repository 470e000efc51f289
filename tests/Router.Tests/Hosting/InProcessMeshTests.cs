using Microsoft.Extensions.Configuration;
using Router.Configuration;
using Router.Hosting;
using Router.Identity;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Sdk.Testing;
using Router.Switching;

namespace Router.Tests.Hosting;

/// <summary>
/// Whole router cores (<see cref="RouterNode"/>: routing, switch, delivery, netmod host) in one
/// process, joined by the SDK's simulated links, on the real clock with short timers
/// (hello 100 ms, update 400 ms).
/// </summary>
[Collection(CpuHeavyCollection.Name)]
public sealed class InProcessMeshTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 1);
    private readonly List<RouterNode> _nodes = [];
    private readonly CapturedLogs _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
            node.Identity.Dispose();
        }
    }

    private async Task<RouterNode> StartNodeAsync(params Func<RouterAddress, SimulatedNetmod>[] netmods)
    {
        var identity = RouterIdentity.Create();
        var plugins = netmods.Select(create =>
        {
            var netmod = create(identity.Address);
            return new NetmodPlugin(netmod.Capabilities.Name, new GivenNetmod(netmod), "memory", new Version(1, 0), SdkVersion.Current, null);
        }).ToList();
        var options = new RouterOptions
        {
            KeyFile = "unused",
            ApiSocket = "unused",
            PluginsDirectory = "unused",
            Routing = new RoutingOptions { HelloInterval = TimeSpan.FromMilliseconds(100), UpdateInterval = TimeSpan.FromMilliseconds(400) },
        };
        var configuration = RouterConfiguration.InMemory([], Path.GetTempPath());
        var node = new RouterNode(identity, options, plugins, configuration, _logs.Factory, TimeProvider.System);
        _nodes.Add(node);
        await node.StartAsync(CancellationToken.None);
        return node;
    }

    private async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}; routers:\n{Describe()}\nwarnings and errors:\n{_logs.Text}");
            await Task.Delay(20);
        }
    }

    /// <summary>Each router's neighbours, routes and routing counters, to explain a failure.</summary>
    private string Describe() => string.Join(Environment.NewLine, _nodes.Select(n =>
        $"{n.Identity.Address.ToShortString()}: neighbours [{string.Join(", ", n.Get<NeighbourTable>().Snapshot().Select(x => $"{x.Address.ToShortString()}@{x.Netmod.Name}"))}]" +
        $" routes [{string.Join(", ", n.Get<RouteTable>().Snapshot().Select(kv => $"{kv.Key.ToShortString()} via {kv.Value.Address.ToShortString()}@{kv.Value.Netmod.Name}"))}]" +
        $" rejected {n.Get<RoutingService>().Rejected} switch received {n.Get<SwitchCounters>().Received}" +
        $" drops [{string.Join(", ", n.Get<SwitchCounters>().DropSnapshot().Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={kv.Value}"))}]" +
        $" netmods [{string.Join(", ", n.Get<NetmodHost>().Instances.Select(i => $"{i.Name}:{i.State}"))}]"));

    /// <summary>
    /// Sends once a route is there. While routes settle (link costs are measured over the first
    /// hellos, on a busy machine some arrive late) a route may come and go; a sender retries.
    /// </summary>
    private async Task SendAsync(RouterNode from, RouterNode to, byte[] message)
    {
        var deadline = DateTime.UtcNow + Limit;
        OriginateResult result;
        while ((result = (await from.Get<MessageSender>().SendAsync(to.Identity.Address, message, CancellationToken.None)).Result) == OriginateResult.NoRoute
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.True(result == OriginateResult.Sent, $"sending failed: {result}; routers:\n{Describe()}");
    }

    private static NextHop? Route(RouterNode from, RouterNode to) =>
        from.Get<RouteTable>().TryGetNextHop(to.Identity.Address, out var hop) ? hop : null;

    [Fact]
    public async Task Line_SixRouters_MessageCrossesFiveHopsAndIsReassembled()
    {
        var links = new List<SimulatedNetmod>();
        var nodes = new List<RouterNode>();
        for (var i = 0; i < 6; i++)
        {
            nodes.Add(await StartNodeAsync(address =>
            {
                var netmod = _network.CreateNetmod("sim", address, maxFrameSize: 1500);
                links.Add(netmod);
                return netmod;
            }));
        }

        for (var i = 0; i + 1 < links.Count; i++)
        {
            _network.Link(links[i], links[i + 1], new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        }

        var (first, last) = (nodes[0], nodes[^1]);
        await WaitForAsync(() => Route(first, last) is not null, "a route across five hops");

        using var listening = new CancellationTokenSource(Limit);
        var inbox = last.Get<Inbox>().Listen(listening.Token);
        var message = new byte[200_000];
        new Random(2).NextBytes(message);

        // Messages are datagrams: on a busy machine a late hello can withdraw a route for a
        // moment and a slice is dropped on the way, so, like any sender needing delivery, send
        // again when nothing arrives (each attempt has 5 s; the counters explain a failure).
        DeliveredMessage? delivered = null;
        for (var attempt = 0; attempt < 3 && delivered is null; attempt++)
        {
            await SendAsync(first, last, message);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(listening.Token);
            wait.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                delivered = await inbox.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!listening.IsCancellationRequested)
            {
            }
        }

        Assert.True(delivered is not null, $"the message never arrived; routers:\n{Describe()}\nwarnings and errors:\n{_logs.Text}");
        Assert.Equal(first.Identity.Address, delivered.From);
        Assert.Equal(message, delivered.Payload);
        Assert.True(nodes[2].Get<SwitchCounters>().Forwarded >= message.Length / 1500);
    }

    [Fact]
    public async Task Flood_RingOfFive_EveryOtherRouterReceivesTheMessageExactlyOnce()
    {
        var links = new List<SimulatedNetmod>();
        var nodes = new List<RouterNode>();
        for (var i = 0; i < 5; i++)
        {
            nodes.Add(await StartNodeAsync(address =>
            {
                var netmod = _network.CreateNetmod("sim", address, maxFrameSize: 1500);
                links.Add(netmod);
                return netmod;
            }));
        }

        for (var i = 0; i < links.Count; i++)
        {
            _network.Link(links[i], links[(i + 1) % links.Count], new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        }

        // Routes to every other router mean every link has authenticated both ways.
        await WaitForAsync(() => nodes.All(n => n.Get<RouteTable>().Count == nodes.Count - 1), "the ring's routes");
        using var listening = new CancellationTokenSource(Limit);
        var inboxes = nodes.Skip(1).Select(n => n.Get<Inbox>().Listen(listening.Token)).ToList();
        var message = new byte[5000]; // four slices at 1,500-byte frames
        new Random(4).NextBytes(message);

        var (result, _, neighbours) = await nodes[0].Get<MessageSender>().FloodAsync(message, CancellationToken.None);
        Assert.Equal((OriginateResult.Sent, 2), (result, neighbours));
        foreach (var inbox in inboxes)
        {
            var delivered = await inbox.ReadAsync(listening.Token);
            Assert.Equal(nodes[0].Identity.Address, delivered.From);
            Assert.Equal(message, delivered.Payload);
        }

        // Each slice reached every router by both ways round the ring; the second copy was dropped.
        await Task.Delay(300);
        Assert.All(inboxes, inbox => Assert.False(inbox.TryRead(out _), "a flooded message was delivered twice"));
        Assert.True(nodes.Skip(1).Sum(n => n.Get<SwitchCounters>().Drops(DropReason.DuplicateFlood)) >= 4);
    }

    [Fact]
    public async Task TwoLinks_TheBetterCarriesTraffic_AndTheOtherTakesOverWhenItFails()
    {
        SimulatedNetmod? fastA = null, slowA = null, fastB = null, slowB = null;
        var a = await StartNodeAsync(x => fastA = _network.CreateNetmod("fast", x), x => slowA = _network.CreateNetmod("slow", x));
        var b = await StartNodeAsync(x => fastB = _network.CreateNetmod("fast", x), x => slowB = _network.CreateNetmod("slow", x));
        _network.Link(fastA!, fastB!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        _network.Link(slowA!, slowB!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(15) });

        // RTT is measured over a few hellos before the difference shows in the metric.
        await WaitForAsync(() => Route(a, b)?.Netmod.Name == "fast", "the route to use the fast link");

        // The fast link goes silent (no netmod event): routing notices missing hellos. (How fast
        // is bounded by the virtual-clock simulations, not here on a busy real clock.)
        _network.SetLinkSilent(fastA!, fastB!, true);
        await WaitForAsync(() => Route(a, b)?.Netmod.Name == "slow", "failover to the slow link");

        // Traffic flows over the slow link.
        using var listening = new CancellationTokenSource(Limit);
        var inbox = b.Get<Inbox>().Listen(listening.Token);
        await SendAsync(a, b, new byte[5000]);
        Assert.Equal(5000, (await inbox.ReadAsync(listening.Token)).Payload.Length);

        // The fast link comes back, and wins again.
        _network.SetLinkSilent(fastA!, fastB!, false);
        await WaitForAsync(() => Route(a, b)?.Netmod.Name == "fast", "the route to return to the fast link");
    }

    [Fact]
    public async Task WideThenNarrowLink_RelayCutsSlicesAndTheMessageArrivesWhole()
    {
        SimulatedNetmod? aWide = null, bWide = null, bNarrow = null, cNarrow = null;
        var a = await StartNodeAsync(x => aWide = _network.CreateNetmod("wide", x, maxFrameSize: 65_536));
        var b = await StartNodeAsync(x => bWide = _network.CreateNetmod("wide", x, maxFrameSize: 65_536), x => bNarrow = _network.CreateNetmod("narrow", x, maxFrameSize: 600));
        var c = await StartNodeAsync(x => cNarrow = _network.CreateNetmod("narrow", x, maxFrameSize: 600));
        _network.Link(aWide!, bWide!);
        _network.Link(bNarrow!, cNarrow!);
        await WaitForAsync(() => Route(a, c) is not null, "a route from A to C");

        using var listening = new CancellationTokenSource(Limit);
        var inbox = c.Get<Inbox>().Listen(listening.Token);
        var message = new byte[150_000];
        new Random(3).NextBytes(message);
        await SendAsync(a, c, message);

        Assert.Equal(message, (await inbox.ReadAsync(listening.Token)).Payload);
        Assert.True(b.Get<SwitchCounters>().Resliced >= 3);
    }

    /// <summary>A factory that hands out a netmod the test made.</summary>
    private sealed class GivenNetmod(Netmod netmod) : INetmodFactory
    {
        public string Name => netmod.Capabilities.Name;

        public IEnumerable<string> Validate(IConfiguration configuration) => [];

        public Netmod Create(NetmodContext context) => netmod;
    }
}
