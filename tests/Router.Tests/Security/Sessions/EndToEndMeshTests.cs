using Microsoft.Extensions.Configuration;
using Router.Configuration;
using Router.Hosting;
using Router.Identity;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Sdk.Testing;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Tests.Security.Sessions;

/// <summary>
/// End-to-end sessions between whole router cores (<see cref="RouterNode"/>) over the SDK's
/// simulated links, on the real clock: re-keying under traffic, and a destination that restarts.
/// </summary>
[Collection(CpuHeavyCollection.Name)]
public sealed class EndToEndMeshTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 3);
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

    private async Task<RouterNode> StartNodeAsync(RouterIdentity identity, SessionOptions sessions, params Func<RouterAddress, SimulatedNetmod>[] netmods)
    {
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
            Sessions = sessions,
        };
        var node = new RouterNode(identity, options, plugins, RouterConfiguration.InMemory([], Path.GetTempPath()), _logs.Factory, TimeProvider.System);
        _nodes.Add(node);
        await node.StartAsync(CancellationToken.None);
        return node;
    }

    private RouterIdentity NewIdentity()
    {
        var identity = RouterIdentity.Create();
        _identities.Add(identity);
        return identity;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    private static bool HasRoute(RouterNode from, RouterNode to) => from.Get<RouteTable>().TryGetNextHop(to.Identity.Address, out _);

    private static async Task SendAsync(RouterNode from, RouterNode to, byte[] message)
    {
        var deadline = DateTime.UtcNow + Limit;
        OriginateResult result;
        while ((result = (await from.Get<MessageSender>().SendAsync(to.Identity.Address, message, CancellationToken.None)).Result) == OriginateResult.NoRoute
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(OriginateResult.Sent, result);
    }

    [Fact]
    public async Task Line_ReKeyEveryFourMessages_EveryMessageArrives_AndTheRelayHoldsNoSession()
    {
        var sessions = new SessionOptions { RekeyAfterMessages = 4 };
        var links = new List<SimulatedNetmod>();
        var nodes = new List<RouterNode>();
        for (var i = 0; i < 3; i++)
        {
            nodes.Add(await StartNodeAsync(NewIdentity(), sessions, address =>
            {
                var netmod = _network.CreateNetmod("sim", address, maxFrameSize: 1400);
                links.Add(netmod);
                return netmod;
            }));
        }

        _network.Link(links[0], links[1], new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        _network.Link(links[1], links[2], new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        var (a, relay, c) = (nodes[0], nodes[1], nodes[2]);
        await WaitForAsync(() => HasRoute(a, c) && HasRoute(c, a), "routes across the relay");

        using var listening = new CancellationTokenSource(Limit);
        var atC = c.Get<Inbox>().Listen(listening.Token);
        var atA = a.Get<Inbox>().Listen(listening.Token);
        var random = new Random(8);
        var toC = Enumerable.Range(0, 120).Select(i => { var m = new byte[random.Next(1, 4000)]; random.NextBytes(m); return m; }).ToList();
        var toA = Enumerable.Range(0, 40).Select(i => { var m = new byte[random.Next(1, 4000)]; random.NextBytes(m); return m; }).ToList();
        for (var i = 0; i < toC.Count; i++)
        {
            await SendAsync(a, c, toC[i]);
            if (i % 3 == 0)
            {
                await SendAsync(c, a, toA[i / 3]);
            }
        }

        var receivedAtC = new List<byte[]>();
        var receivedAtA = new List<byte[]>();
        while (receivedAtC.Count < toC.Count)
        {
            receivedAtC.Add((await atC.ReadAsync(listening.Token)).Payload);
        }

        while (receivedAtA.Count < toA.Count)
        {
            receivedAtA.Add((await atA.ReadAsync(listening.Token)).Payload);
        }

        Assert.Equal(toC.Select(Convert.ToHexString).Order(), receivedAtC.Select(Convert.ToHexString).Order());
        Assert.Equal(toA.Select(Convert.ToHexString).Order(), receivedAtA.Select(Convert.ToHexString).Order());
        var countersA = a.Get<SessionCounters>();
        var countersC = c.Get<SessionCounters>();
        Assert.True(countersA.Rekeys >= 10, $"A re-keyed {countersA.Rekeys} times");
        Assert.Equal(0, countersA.UnknownSession + countersA.BadTag + countersA.Replayed + countersC.UnknownSession + countersC.BadTag + countersC.Replayed);
        Assert.InRange(c.Get<LocalDelivery>().Sessions.SessionsWith(a.Identity.Address), 1, sessions.SessionsPerPeer);

        // The relay forwarded every slice without a session of its own.
        Assert.Equal(0, relay.Get<LocalDelivery>().Sessions.Count);
        Assert.Equal(0, relay.Get<SessionCounters>().MessagesOpened);
        Assert.True(relay.Get<SwitchCounters>().Forwarded >= toC.Count + toA.Count);
    }

    [Fact]
    public async Task Restart_TheDestinationLosesItsSessions_TheSenderIsToldAndTrafficResumes()
    {
        var sessions = new SessionOptions();
        SimulatedNetmod? aLink = null, cLink = null;
        var a = await StartNodeAsync(NewIdentity(), sessions, x => aLink = _network.CreateNetmod("sim", x));
        var cIdentity = NewIdentity();
        var c = await StartNodeAsync(cIdentity, sessions, x => cLink = _network.CreateNetmod("sim", x));
        _network.Link(aLink!, cLink!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        await WaitForAsync(() => HasRoute(a, c), "a route from A to C");
        using (var listening = new CancellationTokenSource(Limit))
        {
            var inbox = c.Get<Inbox>().Listen(listening.Token);
            await SendAsync(a, c, [1]);
            Assert.Equal([1], (await inbox.ReadAsync(listening.Token)).Payload);
        }

        // C restarts with the same key: a new process, no sessions. A still has its session to C.
        await c.DisposeAsync();
        _nodes.Remove(c);
        _network.Unlink(aLink!, cLink!);

        // A learns of the lost link on its routing loop; until then its route to C's address still
        // names the old neighbour, and a send there would fail with LinkLost.
        await WaitForAsync(() => !HasRoute(a, c), "A to drop its route over the old link");
        SimulatedNetmod? restartedLink = null;
        var restarted = await StartNodeAsync(cIdentity, sessions, x => restartedLink = _network.CreateNetmod("sim", x));
        _network.Link(aLink!, restartedLink!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        await WaitForAsync(() => HasRoute(a, restarted), "a route from A to the restarted C");

        // A's first message goes out on the old session and is lost; the restarted router tells
        // A (a signed Init naming the session), A drops it, and the next message gets through.
        using var again = new CancellationTokenSource(Limit);
        var restartedInbox = restarted.Get<Inbox>().Listen(again.Token);
        var started = DateTime.UtcNow;
        byte counter = 2;
        DeliveredMessage? delivered = null;
        while (delivered is null)
        {
            await SendAsync(a, restarted, [counter++]);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(again.Token);
            wait.CancelAfter(TimeSpan.FromMilliseconds(200));
            try
            {
                delivered = await restartedInbox.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!again.IsCancellationRequested)
            {
            }
        }

        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), $"traffic resumed after {DateTime.UtcNow - started}");
        Assert.Equal(1, a.Get<SessionCounters>().SessionsResetByPeer);
        Assert.True(restarted.Get<SessionCounters>().UnknownSession >= 1);
    }

    /// <summary>A factory that hands out a netmod the test made.</summary>
    private sealed class GivenNetmod(Netmod netmod) : INetmodFactory
    {
        public string Name => netmod.Capabilities.Name;

        public IEnumerable<string> Validate(IConfiguration configuration) => [];

        public Netmod Create(NetmodContext context) => netmod;
    }
}
