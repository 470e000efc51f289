using System.Diagnostics;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>Keepalives, dead peers, and peers that come back.</summary>
public sealed class LivenessTests
{
    private static Dictionary<string, string?> Quick(params string[] peers)
    {
        var settings = Udp.FastSettings(peers);
        settings["KeepaliveSeconds"] = "0.2";
        settings["DeadPeerTimeoutSeconds"] = "1";
        return settings;
    }

    [Fact]
    public async Task Keepalive_IdleLink_StaysUpForManyDeadPeerTimeouts()
    {
        await using var b = await TestNode.StartAsync(Quick());
        await using var a = await TestNode.StartAsync(Quick(b.ListenAddress));
        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        // Nothing but keepalives for 3.5 dead-peer timeouts.
        await Task.Delay(TimeSpan.FromSeconds(3.5));

        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.False(b.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.True(a.Endpoint.Counters.DatagramsReceived >= 10, $"a heard only {a.Endpoint.Counters.DatagramsReceived} datagrams");
    }

    [Fact]
    public async Task DeadPeer_PeerStopsThenANewOneStartsOnItsPort_DownWithinTimeoutThenUpAgainByItself()
    {
        var b = await TestNode.StartAsync(Quick());
        var port = b.ListenAddress;
        await using var a = await TestNode.StartAsync(Quick(port));
        var first = await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        var stopped = Stopwatch.StartNew();
        await b.DisposeAsync();
        var down = await a.NextEventAsync();
        var silentFor = stopped.Elapsed;

        Assert.Equal(new NeighbourEvent(NeighbourEventKind.Down, first.Neighbour, b.Address, first.RemoteEndpoint), down);
        Assert.True(silentFor >= TimeSpan.FromSeconds(0.7), $"down after only {silentFor.TotalSeconds:F2} s");
        Assert.True(silentFor <= TimeSpan.FromSeconds(2), $"down after {silentFor.TotalSeconds:F2} s, dead-peer timeout 1 s");
        Assert.True(a.Logs.Has(314, m => m.Contains(port, StringComparison.Ordinal)));
        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Single().State == PeerState.Connecting, "the configured peer is Connecting");
        Assert.StartsWith("link down: silent for ", a.Endpoint.GetPeers().Single().LastError, StringComparison.Ordinal);

        // The same router comes back on the same port, knowing nothing of a: a's hellos find it.
        var settings = Quick();
        settings["Listen:0"] = port;
        await using var again = await TestNode.StartAsync(settings, b.Address);
        var up = await a.ExpectUpAsync(b.Address);

        Assert.NotEqual(first.Neighbour, up.Neighbour);
        await again.ExpectUpAsync(a.Address);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(up.Neighbour, new byte[] { 42 }, CancellationToken.None));
        Assert.Equal([42], (await again.NextFrameAsync()).Bytes);
    }

    [Fact]
    public async Task DeadPeer_InboundPeerStops_DownWithinTimeout()
    {
        await using var b = await TestNode.StartAsync(Quick());
        var a = await TestNode.StartAsync(Quick(b.ListenAddress));
        await a.ExpectUpAsync(b.Address);
        var up = await b.ExpectUpAsync(a.Address);

        var stopped = Stopwatch.StartNew();
        await a.DisposeAsync();
        var down = await b.NextEventAsync();

        Assert.Equal(NeighbourEventKind.Down, down.Kind);
        Assert.Equal(up.Neighbour, down.Neighbour);
        Assert.True(stopped.Elapsed <= TimeSpan.FromSeconds(2), $"down after {stopped.Elapsed.TotalSeconds:F2} s");
        Assert.Empty(b.Endpoint.GetPeers());
    }

    [Fact]
    public async Task Restart_AnotherRouterTakesThePortBeforeTheTimeout_ReplacedWithoutWaitingForIt()
    {
        // A long dead-peer timeout: only the new router's greeting can end the old link quickly.
        var slow = Udp.FastSettings();
        slow["DeadPeerTimeoutSeconds"] = "10";
        var b = await TestNode.StartAsync(slow);
        var port = b.ListenAddress;
        await using var a = await TestNode.StartAsync(new Dictionary<string, string?>(slow) { ["Peers:0"] = port });
        var first = await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);
        var bOnA = first.Neighbour;

        await b.DisposeAsync();
        var settings = Udp.FastSettings();
        settings["Listen:0"] = port;
        await using var other = await TestNode.StartAsync(settings);
        var replaced = Stopwatch.StartNew();

        // a still thinks b is there and sends to it; the newcomer answers the stranger with a
        // hello, a learns the endpoint is now another router, and the links follow at once.
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 1 }, CancellationToken.None));
        var down = await a.NextEventAsync();
        var up = await a.NextEventAsync();

        Assert.Equal(new NeighbourEvent(NeighbourEventKind.Down, bOnA, b.Address, port), down);
        Assert.Equal(NeighbourEventKind.Up, up.Kind);
        Assert.Equal(other.Address, up.Address);
        Assert.True(replaced.Elapsed < TimeSpan.FromSeconds(3), $"replaced after {replaced.Elapsed.TotalSeconds:F2} s");
        Assert.True(a.Logs.Has(315));
        await other.ExpectUpAsync(a.Address);
    }
}
