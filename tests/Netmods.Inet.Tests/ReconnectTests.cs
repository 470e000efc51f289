using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

public sealed class ReconnectTests
{
    [Fact]
    public async Task Dialer_PeerRestartsOnTheSamePort_ReconnectsByItself()
    {
        var first = await TestNode.StartAsync(Inet.FastSettings());
        var address = first.Address;
        var peerSettings = Inet.FastSettings();
        peerSettings["Listen:0"] = first.ListenAddress;
        TestNode? second = null;
        try
        {
            await using var a = await TestNode.StartAsync(Inet.FastSettings(first.ListenAddress));
            var up = await a.ExpectUpAsync(address);

            await first.DisposeAsync();
            var down = await a.NextEventAsync();
            Assert.Equal(NeighbourEventKind.Down, down.Kind);
            Assert.Equal(up.Neighbour, down.Neighbour);

            second = await StartOnFreedPortAsync(peerSettings, address);
            var again = await a.ExpectUpAsync(address);

            // A new link is a new neighbour id: nothing queued for the old one can reach it.
            Assert.NotEqual(up.Neighbour, again.Neighbour);
            Assert.Equal(SendResult.NoSuchNeighbour, await a.Endpoint.SendAsync(up.Neighbour, new byte[] { 1 }, CancellationToken.None));
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(again.Neighbour, new byte[] { 2 }, CancellationToken.None));
            Assert.Equal(new byte[] { 2 }, (await second.NextFrameAsync()).Bytes);
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Dialer_PeerDialledUsAndLeaves_IdleDialerResumesDialling()
    {
        // b dials a; a also lists b. The lower address wins any duplicate, so whichever way
        // it settles, killing b's side must bring a's dialer back and re-link.
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        await b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);
        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);
        // On both sides: while b still holds the losing duplicate as its neighbour's connection,
        // aborting that one would cut nothing a uses.
        await Eventually.TrueAsync(() => a.Endpoint.LiveConnections == 1 && b.Endpoint.LiveConnections == 1, "the duplicate is gone");

        // Kill the connection under both (as a network failure would) by aborting it on b.
        foreach (var neighbour in b.Endpoint.Links.All)
        {
            neighbour.Active.Abort("test cut");
        }

        Assert.Equal(NeighbourEventKind.Down, (await a.NextEventAsync()).Kind);
        await a.ExpectUpAsync(b.Address);
    }

    private static async Task<TestNode> StartOnFreedPortAsync(Dictionary<string, string?> settings, RouterAddress address)
    {
        var deadline = DateTime.UtcNow + Inet.Timeout;
        while (true)
        {
            try
            {
                return await TestNode.StartAsync(settings, address);
            }
            catch (InvalidOperationException e) when (e.InnerException is SocketException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }
}
