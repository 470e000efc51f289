using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary><see cref="IPeerRemovalFeature"/>: a removed peer's link closes and stays closed.</summary>
public sealed class PeerRemovalTests
{
    [Fact]
    public async Task RemovePeersAsync_LinkedPeer_GoesDownOnBothSidesAndItsTrafficDoesNotRelinkIt()
    {
        var settings = Udp.FastSettings();
        settings["DeadPeerTimeoutSeconds"] = "1.5";
        await using var b = await TestNode.StartAsync(settings);
        await using var a = await TestNode.StartAsync(new Dictionary<string, string?>(settings) { ["Peers:0"] = b.ListenAddress });
        await a.ExpectUpAsync(b.Address);
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;

        await a.Endpoint.RemovePeersAsync([b.ListenAddress], CancellationToken.None);

        // Down is reported before the call returns.
        Assert.True(a.Endpoint.NeighbourEvents.TryRead(out var down), "no Down event on a when RemovePeersAsync returned");
        Assert.Equal((NeighbourEventKind.Down, b.Address), (down.Kind, down.Address));
        Assert.Empty(a.Endpoint.GetPeers());

        // b still sends (as routing would): to a that is a stranger's traffic, not answered any more.
        using var sending = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            while (!sending.IsCancellationRequested)
            {
                await b.Endpoint.SendAsync(aOnB, new byte[64], CancellationToken.None);
                await Task.Delay(50, CancellationToken.None);
            }
        });
        var bDown = await b.NextEventAsync();
        Assert.Equal((NeighbourEventKind.Down, a.Address), (bDown.Kind, bDown.Address));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await sending.CancelAsync();
        await traffic;

        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out var again), $"a linked to b again: {again}");
        Assert.Empty(a.Endpoint.Table.All);
    }

    [Fact]
    public async Task RemovePeersAsync_RemovedPeerGreetsUsItself_LinksAgain()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        await a.Endpoint.RemovePeersAsync([b.ListenAddress, "unknown.example:1"], CancellationToken.None);
        Assert.Equal(NeighbourEventKind.Down, (await a.NextEventAsync()).Kind);

        // b wants the link (it configures a): a removed peer is refused nothing another would get.
        await b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);
        await a.ExpectUpAsync(b.Address);
    }

    [Fact]
    public async Task RemovePeersAsync_Malformed_ThrowsAndRemovesNothing()
    {
        await using var a = await TestNode.StartAsync(Udp.FastSettings("127.0.0.1:9"));

        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await a.Endpoint.RemovePeersAsync(["127.0.0.1:9", "no port"], CancellationToken.None));

        Assert.Contains("no port", e.Message, StringComparison.Ordinal);
        Assert.Single(a.Endpoint.GetPeers());
    }
}
