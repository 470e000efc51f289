using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary><see cref="IPeerRemovalFeature"/>: a removed peer's link closes and stays closed.</summary>
public sealed class PeerRemovalTests
{
    [Fact]
    public async Task RemovePeersAsync_LinkedPeer_GoesDownOnBothSidesAndIsNotDialledAgain()
    {
        var settings = Inet.FastSettings();
        await using var b = await TestNode.StartAsync(settings);
        await using var a = await TestNode.StartAsync(new Dictionary<string, string?>(settings) { ["Peers:0"] = b.ListenAddress });
        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        await a.Endpoint.RemovePeersAsync([b.ListenAddress], CancellationToken.None);

        // Down is reported before the call returns.
        Assert.True(a.Endpoint.NeighbourEvents.TryRead(out var down), "no Down event on a when RemovePeersAsync returned");
        Assert.Equal((NeighbourEventKind.Down, b.Address), (down.Kind, down.Address));
        Assert.Empty(a.Endpoint.GetPeers());

        var bDown = await b.NextEventAsync();
        Assert.Equal((NeighbourEventKind.Down, a.Address), (bDown.Kind, bDown.Address));

        // a no longer dials b.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out var again), $"a linked to b again: {again}");
        Assert.Empty(a.Endpoint.Links.All);
    }

    [Fact]
    public async Task RemovePeersAsync_RemovedPeerDialsUsItself_LinksAgain()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        await a.Endpoint.RemovePeersAsync([b.ListenAddress, "unknown.example:1"], CancellationToken.None);
        Assert.Equal(NeighbourEventKind.Down, (await a.NextEventAsync()).Kind);

        // b wants the link (it dials a): a removed peer is refused nothing another would get.
        await b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);
        await a.ExpectUpAsync(b.Address);
    }

    [Fact]
    public async Task RemovePeersAsync_Malformed_ThrowsAndRemovesNothing()
    {
        await using var a = await TestNode.StartAsync(Inet.FastSettings("127.0.0.1:9"));

        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await a.Endpoint.RemovePeersAsync(["127.0.0.1:9", "no port"], CancellationToken.None));

        Assert.Contains("no port", e.Message, StringComparison.Ordinal);
        Assert.Single(a.Endpoint.GetPeers());
    }
}
