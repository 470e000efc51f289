using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Api;
using Router.Configuration;
using Router.Hosting;
using Router.Identity;
using Router.Overlay;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Sdk.Testing;

namespace Router.Tests.Overlay;

/// <summary>
/// IP packets across whole router cores (<see cref="RouterNode"/>) in a line A—B—C over the SDK's
/// simulated links, each router with an in-memory IP interface: overlay addresses, announced
/// prefixes by longest match, conflicts, source checks, batching and slicing.
/// </summary>
[Collection(CpuHeavyCollection.Name)]
public sealed class IpOverMeshTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 5);
    private readonly List<RouterNode> _nodes = [];
    private readonly List<RouterIdentity> _identities = [];
    private readonly CapturedLogs _logs = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        _identities.ForEach(i => i.Dispose());
    }

    private sealed record Member(RouterNode Node, MemoryIpInterface Interface, SimulatedNetmod Link)
    {
        public RouterAddress Address => Node.Identity.Address;

        public IPAddress Overlay => OverlayAddress.For(Address);
    }

    /// <summary>Starts a line of routers, each announcing the given prefixes; links carry frames of <paramref name="frameSize"/> bytes.</summary>
    private Task<Member[]> LineAsync(int frameSize, params string[][] prefixes) => LineAsync(frameSize, headroom: true, prefixes);

    /// <summary>
    /// As <see cref="LineAsync(int, string[][])"/>; with <paramref name="headroom"/> the IP
    /// interfaces leave the headroom their router asks for in front of each packet, as the tun
    /// netmod does, and the gateway builds a batch around its first packet; without, it copies.
    /// </summary>
    private async Task<Member[]> LineAsync(int frameSize, bool headroom, params string[][] prefixes)
    {
        var members = new List<Member>();
        foreach (var announced in prefixes)
        {
            var identity = RouterIdentity.Create();
            _identities.Add(identity);
            var ip = new MemoryIpInterface([.. announced.Select(IPNetwork.Parse)]);
            var link = _network.CreateNetmod("sim", identity.Address, maxFrameSize: frameSize);
            var options = new RouterOptions
            {
                KeyFile = "unused",
                ApiSocket = "unused",
                PluginsDirectory = "unused",
                Routing = new RoutingOptions { HelloInterval = TimeSpan.FromMilliseconds(100), UpdateInterval = TimeSpan.FromMilliseconds(400) },
            };
            var ipPlugin = Plugin(ip, context => ip.Headroom = headroom ? context.ReceiveHeadroom : 0);
            var node = new RouterNode(identity, options, [Plugin(link), ipPlugin], RouterConfiguration.InMemory([], Path.GetTempPath()), _logs.Factory, TimeProvider.System);
            _nodes.Add(node);
            await node.StartAsync(CancellationToken.None);
            members.Add(new Member(node, ip, link));
        }

        for (var i = 1; i < members.Count; i++)
        {
            _network.Link(members[i - 1].Link, members[i].Link, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        }

        return [.. members];
    }

    private static NetmodPlugin Plugin(Netmod netmod, Action<NetmodContext>? created = null) =>
        new(netmod.Capabilities.Name, new GivenNetmod(netmod, created), "memory", new Version(1, 0, 0), SdkVersion.Current, null);

    private async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}\n{Describe()}");
            await Task.Delay(20);
        }
    }

    /// <summary>Every router's routes and prefix table, to explain a timeout.</summary>
    private string Describe() => string.Join("\n", _nodes.Select(n =>
    {
        var status = n.Get<RouterStatus>();
        var routes = string.Join("; ", status.Routes().Select(r => $"{r.Destination[..8]} seqno {r.Seqno} via {r.NextHop[..8]} prefixes [{string.Join(' ', r.Prefixes)}]"));
        var table = n.Get<PrefixTable>().Current;
        var overlay = n.Get<OverlayCounters>();
        var drops = string.Join(' ', Enum.GetValues<PacketDrop>().Where(d => overlay.Drops(d) > 0).Select(d => $"{d}={overlay.Drops(d)}"));
        return $"{n.Identity.Address.ToShortString()}: routes {routes}; prefixes {string.Join(' ', table.Entries.Select(e => $"{e.Prefix}->{e.Owner.ToShortString()}"))}; mesh {string.Join(' ', table.MeshPrefixes)}; " +
            $"packets sent {overlay.Sent}, received {overlay.Received}, dropped [{drops}]";
    })) + "\n" + _logs.Text;

    private async Task<byte[]> ReadAsync(MemoryIpInterface at)
    {
        using var timeout = new CancellationTokenSource(Limit);
        try
        {
            return await at.Written.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no packet written out within {Limit.TotalSeconds} s\n{Describe()}");
        }
    }

    private static bool Resolves(Member from, IPAddress address, Member to) =>
        from.Node.Get<PrefixTable>().Current.TryGetOwner(address.GetAddressBytes(), out var owner) && owner == to.Address;

    private static byte[] Payload(int length, int seed)
    {
        var payload = new byte[length];
        new Random(seed).NextBytes(payload);
        return payload;
    }

    [Fact]
    public async Task OverlayAddress_ReachesARouterTwoHopsAway_WithNoConfiguration()
    {
        var (a, _, c) = Three(await LineAsync(1400, [], [], []));
        await WaitForAsync(() => Resolves(a, c.Overlay, c) && Resolves(c, a.Overlay, a), "overlay addresses across the relay");

        var packet = MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(1000, 1));
        a.Interface.Inject(packet);
        Assert.Equal(packet, await ReadAsync(c.Interface));

        var reply = MemoryIpInterface.IPv6(c.Overlay, a.Overlay, Payload(10, 2));
        c.Interface.Inject(reply);
        Assert.Equal(reply, await ReadAsync(a.Interface));
    }

    [Fact]
    public async Task OverlayAddressNobodyHas_TheSenderGetsAnIcmpV6NoRouteAtOnce()
    {
        var (a, _, c) = Three(await LineAsync(1400, [], [], []));
        await WaitForAsync(() => Resolves(a, c.Overlay, c), "C's overlay address at A");

        var lost = MemoryIpInterface.IPv6(a.Overlay, IPAddress.Parse("fd6d:dead::1"), Payload(32, 12));
        a.Interface.Inject(lost);
        var error = await ReadAsync(a.Interface);

        Assert.Equal(58, error[6]);
        Assert.Equal(a.Overlay, new IPAddress(error.AsSpan(8, 16)));
        Assert.Equal(a.Overlay, new IPAddress(error.AsSpan(24, 16)));
        Assert.Equal([1, 0], error[40..42]);
        Assert.Equal(lost, error[48..]);
        Assert.Equal(1, a.Node.Get<OverlayCounters>().UnreachableSent);
        Assert.Equal(1, a.Node.Get<OverlayCounters>().Drops(PacketDrop.NoRoute));
    }

    [Fact]
    public async Task AnnouncedPrefixes_RouteByLongestMatch_AndReachTheInterfacesAsMeshRoutes()
    {
        var (a, b, c) = Three(await LineAsync(1400, ["10.66.1.0/24"], ["10.66.0.0/16", "fd00:b::/48"], ["10.66.3.0/24"]));
        await WaitForAsync(() => a.Interface.MeshPrefixes.Count == 3 && c.Interface.MeshPrefixes.Count == 3, "every router's prefixes at A and C");
        Assert.Equal(["10.66.0.0/16", "10.66.3.0/24", "fd00:b::/48"], a.Interface.MeshPrefixes.Select(p => p.ToString()));
        Assert.Equal(["10.66.0.0/16", "10.66.1.0/24", "fd00:b::/48"], c.Interface.MeshPrefixes.Select(p => p.ToString()));

        var toC = MemoryIpInterface.IPv4(IPAddress.Parse("10.66.1.5"), IPAddress.Parse("10.66.3.9"), Payload(300, 3));
        a.Interface.Inject(toC);
        Assert.Equal(toC, await ReadAsync(c.Interface));

        // 10.66.7.1 matches only B's /16.
        var toB = MemoryIpInterface.IPv4(IPAddress.Parse("10.66.1.5"), IPAddress.Parse("10.66.7.1"), Payload(300, 4));
        a.Interface.Inject(toB);
        Assert.Equal(toB, await ReadAsync(b.Interface));

        var toB6 = MemoryIpInterface.IPv6(a.Overlay, IPAddress.Parse("fd00:b::1"), Payload(64, 5));
        a.Interface.Inject(toB6);
        Assert.Equal(toB6, await ReadAsync(b.Interface));

        // Unknown destinations never leave A.
        a.Interface.Inject(MemoryIpInterface.IPv4(IPAddress.Parse("10.66.1.5"), IPAddress.Parse("192.0.2.1"), Payload(10, 6)));
        await WaitForAsync(() => a.Node.Get<OverlayCounters>().Drops(PacketDrop.NoRoute) == 1, "a no-route drop");

        var routes = a.Node.Get<RouterStatus>().Routes();
        Assert.Equal(["10.66.3.0/24"], routes.Single(r => r.Destination == c.Address.ToString()).Prefixes);
        Assert.Equal(c.Overlay.ToString(), routes.Single(r => r.Destination == c.Address.ToString()).OverlayAddress);
    }

    [Fact]
    public async Task SpoofedSource_IsDropped_AndPacketsForOthersAreNotWrittenOut()
    {
        var (a, b, c) = Three(await LineAsync(1400, ["10.66.1.0/24"], [], ["10.66.3.0/24"]));
        await WaitForAsync(() => Resolves(a, IPAddress.Parse("10.66.3.1"), c) && Resolves(c, IPAddress.Parse("10.66.1.1"), a), "prefixes at A and C");

        // A claims a source in C's own prefix, then B's overlay address: C refuses both.
        a.Interface.Inject(MemoryIpInterface.IPv4(IPAddress.Parse("10.66.3.77"), IPAddress.Parse("10.66.3.1"), Payload(20, 7)));
        a.Interface.Inject(MemoryIpInterface.IPv6(b.Overlay, c.Overlay, Payload(20, 8)));
        var honest = MemoryIpInterface.IPv4(IPAddress.Parse("10.66.1.1"), IPAddress.Parse("10.66.3.1"), Payload(20, 9));
        a.Interface.Inject(honest);
        Assert.Equal(honest, await ReadAsync(c.Interface));
        Assert.Equal(2, c.Node.Get<OverlayCounters>().Drops(PacketDrop.SpoofedSource));
        Assert.False(c.Interface.Written.Reader.TryRead(out _));

        // Only a batch with a packet written is followed by OnPacketsWritten.
        await WaitForAsync(() => !c.Interface.WriteCalls.IsEmpty, "C's interface told of the honest packet");
        Assert.Equal([(1, true)], c.Interface.WriteCalls);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ABurstOfSmallPackets_GoesOutInFewBatches_InOrder_AndLargePacketsAreSlicedAcrossSmallFrames(bool headroom)
    {
        var (a, _, c) = Three(await LineAsync(1400, headroom, [], [], []));
        Assert.Equal(headroom ? PacketGateway.ReceiveHeadroom : 0, a.Interface.Headroom);
        await WaitForAsync(() => Resolves(a, c.Overlay, c), "C's overlay address at A");

        // The first packet waits for the key exchange; nothing is lost.
        var first = MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(100, 10));
        a.Interface.Inject(first);
        Assert.Equal(first, await ReadAsync(c.Interface));

        var burst = Enumerable.Range(0, 300).Select(i => MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(60 + (i % 50), 100 + i))).ToList();
        var batchesBefore = a.Node.Get<OverlayCounters>().Sent.Batches;
        foreach (var packet in burst)
        {
            a.Interface.Inject(packet);
        }

        foreach (var packet in burst)
        {
            Assert.Equal(packet, await ReadAsync(c.Interface));
        }

        var batches = a.Node.Get<OverlayCounters>().Sent.Batches - batchesBefore;
        Assert.True(batches < burst.Count / 4, $"{burst.Count} packets went out in {batches} batches");

        // 60,000 bytes over links of 1,400-byte frames: sliced at A, reassembled at C.
        var large = MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(60_000, 11));
        a.Interface.Inject(large);
        Assert.Equal(large, await ReadAsync(c.Interface));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PacketsMarkedMoreFollows_WaitForTheRestOfTheBurst_AndGoOutInOneBatch(bool headroom)
    {
        var (a, _, c) = Three(await LineAsync(1400, headroom, [], [], []));
        await WaitForAsync(() => Resolves(a, c.Overlay, c), "C's overlay address at A");
        var first = MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(100, 20));
        a.Interface.Inject(first);
        Assert.Equal(first, await ReadAsync(c.Interface));

        // Trickled in with pauses the gateway would otherwise flush at: the interface said more
        // follow, so they wait for the unmarked last one.
        var burst = Enumerable.Range(0, 6).Select(i => MemoryIpInterface.IPv6(a.Overlay, c.Overlay, Payload(80, 30 + i))).ToList();
        var batchesBefore = a.Node.Get<OverlayCounters>().Sent.Batches;
        for (var i = 0; i < burst.Count; i++)
        {
            a.Interface.Inject(burst[i], moreFollows: i < burst.Count - 1);
            await Task.Delay(30);
        }

        foreach (var packet in burst)
        {
            Assert.Equal(packet, await ReadAsync(c.Interface));
        }

        Assert.Equal(1, a.Node.Get<OverlayCounters>().Sent.Batches - batchesBefore);

        // C's gateway told its interface once per batch, after writing it, on the writing thread.
        await WaitForAsync(() => c.Interface.WriteCalls.Count >= 2, "C's interface told of both batches");
        Assert.Equal([(1, true), (burst.Count, true)], c.Interface.WriteCalls);
    }

    [Fact]
    public async Task TwoRoutersAnnounceOnePrefix_TheLowerAddressGetsIt_EverywhereAlike_AndStatusReportsIt()
    {
        var (a, b, c) = Three(await LineAsync(1400, [], ["10.77.0.0/16"], ["10.77.0.0/16"]));
        var winner = b.Address.CompareTo(c.Address) < 0 ? b : c;
        var loser = winner == b ? c : b;
        await WaitForAsync(
            () => new[] { a, b, c }.All(m => m.Node.Get<PrefixTable>().Current.Conflicts.Count == 1),
            "the conflict seen by every router");
        foreach (var member in new[] { a, b, c })
        {
            Assert.True(Resolves(member, IPAddress.Parse("10.77.1.1"), winner));
        }

        var status = a.Node.Get<RouterStatus>().Status();
        var conflict = Assert.Single(status.Overlay.Conflicts);
        Assert.Equal("10.77.0.0/16", conflict.Prefix);
        Assert.Equal(winner.Address.ToString(), conflict.Router);
        Assert.Equal(2, conflict.Claimants.Count);
        Assert.Contains($"Prefix 10.77.0.0/16 is announced by {loser.Address.ToShortString()}", _logs.Text, StringComparison.Ordinal);

        // Neither claimant routes the prefix into the mesh; A routes it (to the winner).
        Assert.Equal(["10.77.0.0/16"], a.Interface.MeshPrefixes.Select(p => p.ToString()));
        Assert.DoesNotContain(IPNetwork.Parse("10.77.0.0/16"), winner.Interface.MeshPrefixes);
        Assert.DoesNotContain(IPNetwork.Parse("10.77.0.0/16"), loser.Interface.MeshPrefixes);
    }

    [Fact]
    public async Task InterfaceStops_ItsPrefixesAreWithdrawnEverywhere()
    {
        var members = await LineAsync(1400, [], ["10.88.0.0/16"]);
        var (a, b) = (members[0], members[1]);
        await WaitForAsync(() => a.Interface.MeshPrefixes.Count == 1, "B's prefix at A");

        await b.Interface.StopAsync(CancellationToken.None);
        await b.Node.Get<PacketGateway>().DetachAsync(b.Node.Get<NetmodHost>().Instances.Single(i => i.Name == "ip"), CancellationToken.None);
        await WaitForAsync(() => a.Interface.MeshPrefixes.Count == 0, "B's prefix withdrawn at A");
        Assert.False(Resolves(a, IPAddress.Parse("10.88.0.1"), b));
        Assert.True(Resolves(a, b.Overlay, b));
    }

    private static (Member, Member, Member) Three(Member[] members) => (members[0], members[1], members[2]);

    /// <summary>A factory that hands out a netmod the test made, telling <paramref name="created"/> the context the router gave.</summary>
    private sealed class GivenNetmod(Netmod netmod, Action<NetmodContext>? created) : INetmodFactory
    {
        public string Name => netmod.Capabilities.Name;

        public IEnumerable<string> Validate(IConfiguration configuration) => [];

        public Netmod Create(NetmodContext context)
        {
            created?.Invoke(context);
            return netmod;
        }
    }
}
