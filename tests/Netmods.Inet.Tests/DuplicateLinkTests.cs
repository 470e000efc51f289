using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>Two connections between the same two routers must settle on one, without flapping.</summary>
public sealed class DuplicateLinkTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task SimultaneousDial_EachListsTheOther_ConvergesToOneLinkThatStays()
    {
        // Several rounds: which connection finishes its handshake first varies between runs.
        for (var round = 0; round < 4; round++)
        {
            await using var a = await TestNode.StartAsync(Inet.FastSettings());
            await using var b = await TestNode.StartAsync(Inet.FastSettings());
            var addPeers = Task.WhenAll(
                a.Endpoint.AddPeersAsync([b.ListenAddress], CancellationToken.None).AsTask(),
                b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None).AsTask());
            await addPeers;

            var upOnA = await a.ExpectUpAsync(b.Address);
            var upOnB = await b.ExpectUpAsync(a.Address);
            await Eventually.TrueAsync(
                () => a.Endpoint.LiveConnections == 1 && b.Endpoint.LiveConnections == 1,
                $"one connection per side (round {round}: a has {a.Endpoint.LiveConnections}, b has {b.Endpoint.LiveConnections})");


            // No Down, no second Up, no redial for a while: the link stays as it is.
            await Task.Delay(Settle);
            Assert.False(a.Endpoint.NeighbourEvents.TryRead(out var extraA), $"round {round}: a saw {extraA}");
            Assert.False(b.Endpoint.NeighbourEvents.TryRead(out var extraB), $"round {round}: b saw {extraB}");
            Assert.Equal(1, a.Endpoint.LiveConnections);
            Assert.Equal(1, b.Endpoint.LiveConnections);

            // Both dialers start knowing nothing of the other, so both connections complete
            // and the duplicate rule really ran (a second connection registered somewhere).
            Assert.True(a.Logs.Has(122) || b.Logs.Has(122), $"round {round}: no duplicate was resolved");

            // The lower router's dial carries the link; the other dialer stands aside.
            var (lower, higher) = a.Address < b.Address ? (a, b) : (b, a);
            Assert.Equal(PeerState.Up, Assert.Single(lower.Endpoint.GetPeers(), p => !p.Inbound).State);
            Assert.Equal(PeerState.Idle, Assert.Single(higher.Endpoint.GetPeers(), p => !p.Inbound).State);

            // And it carries frames both ways under the ids from the Up events.
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(upOnA.Neighbour, new byte[] { 1 }, CancellationToken.None));
            Assert.Equal(SendResult.Sent, await b.Endpoint.SendAsync(upOnB.Neighbour, new byte[] { 2 }, CancellationToken.None));
            Assert.Equal(new byte[] { 1 }, (await b.NextFrameAsync()).Bytes);
            Assert.Equal(new byte[] { 2 }, (await a.NextFrameAsync()).Bytes);
        }
    }

    [Fact]
    public async Task TwoEndpointsOfOneRouter_DialledByTheSameRouter_SettleOnOneLink()
    {
        var settings = Inet.FastSettings();
        settings["Listen:1"] = "127.0.0.1:0";
        await using var b = await TestNode.StartAsync(settings);
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.Endpoint.Loopback(0), b.Endpoint.Loopback(1)));

        var upOnA = await a.ExpectUpAsync(b.Address);
        var upOnB = await b.ExpectUpAsync(a.Address);
        await Eventually.TrueAsync(() => a.Endpoint.LiveConnections == 1 && b.Endpoint.LiveConnections == 1, "one connection per side");
        await Task.Delay(Settle);

        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out var extraA), $"a saw {extraA}");
        Assert.False(b.Endpoint.NeighbourEvents.TryRead(out var extraB), $"b saw {extraB}");
        var states = a.Endpoint.GetPeers().Select(p => p.State).Order().ToArray();
        Assert.Equal([PeerState.Up, PeerState.Idle], states);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(upOnA.Neighbour, new byte[] { 3 }, CancellationToken.None));
        Assert.Equal(SendResult.Sent, await b.Endpoint.SendAsync(upOnB.Neighbour, new byte[] { 4 }, CancellationToken.None));
        Assert.Equal(new byte[] { 3 }, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(new byte[] { 4 }, (await a.NextFrameAsync()).Bytes);
    }
}
