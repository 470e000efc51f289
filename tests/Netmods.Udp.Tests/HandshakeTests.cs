using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>Hellos from raw sockets: other versions, repeats, acks nobody asked for.</summary>
public sealed class HandshakeTests
{
    [Fact]
    public async Task Hello_Version2_IsRefusedLoggedAndAnsweredWithOurVersion()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        using var raw = new RawPeer();

        await raw.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress(), version: 2), node.LocalEndPoint);

        // The answer is an ack, never a hello, so two versions cannot hello each other forever;
        // it carries our version so the other side can refuse and log too.
        var answer = await raw.ReceiveAsync();
        Assert.Equal((byte)DatagramType.HelloAck, answer[0]);
        Assert.Equal(ParseStatus.Valid, Wire.ParseHello(answer, out var ours));
        Assert.Equal(1, ours.Version);
        Assert.Equal(node.Address, ours.Address);
        await Eventually.TrueAsync(() => node.Logs.Has(320), "the mismatch is logged");
        var entry = Assert.Single(node.Logs.Entries, e => e.Id.Id == 320);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Equal($"peer {raw.LocalEndPoint} speaks udp protocol v2, this router speaks v1; link refused", entry.Message);

        // Said once at Warning; the same complaint again goes to Debug.
        await raw.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress(), version: 2), node.LocalEndPoint);
        await raw.ReceiveAsync();
        await Eventually.TrueAsync(() => node.Logs.Has(321), "the repeat is logged at Debug");
        Assert.Single(node.Logs.Entries, e => e.Id.Id == 320);
        Assert.False(node.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.Empty(node.Endpoint.Table.All);
    }

    [Fact]
    public async Task HelloAck_Version2FromAConfiguredPeer_IsRefusedLoggedAndShownAsTheError()
    {
        using var raw = new RawPeer();
        await using var node = await TestNode.StartAsync(Udp.FastSettings(raw.LocalEndPoint.ToString()));

        // Our hello reaches the raw peer, which answers as a version 2 router would.
        var hello = await raw.ReceiveAsync(DatagramType.Hello);
        Assert.Equal(ParseStatus.Valid, Wire.ParseHello(hello, out _));
        await raw.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress(), DatagramType.HelloAck, version: 2), node.LocalEndPoint);

        await Eventually.TrueAsync(() => node.Logs.Has(320, m => m.Contains("v2", StringComparison.Ordinal)), "the mismatch is logged");
        await Eventually.TrueAsync(() => node.Endpoint.GetPeers().Single().LastError is { } e && e.Contains("v2", StringComparison.Ordinal), "the peer shows the mismatch");
        Assert.Equal("speaks udp protocol v2, this router speaks v1", node.Endpoint.GetPeers().Single().LastError);
        Assert.Equal(PeerState.Connecting, node.Endpoint.GetPeers().Single().State);
        Assert.False(node.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task Hello_Repeated_AnsweredEachTimeWithOneNeighbour()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        using var raw = new RawPeer();
        var address = NetmodTestContext.RandomAddress();

        for (var i = 0; i < 3; i++)
        {
            await raw.SendAsync(RawPeer.Hello(address, maxFrameSize: 300 + i), node.LocalEndPoint);
            var ack = await raw.ReceiveAsync(DatagramType.HelloAck);
            Assert.Equal(ParseStatus.Valid, Wire.ParseHello(ack, out var fields));
            Assert.Equal(1400u, fields.MaxFrameSize);
        }

        var up = await node.ExpectUpAsync(address);
        Assert.Equal(raw.LocalEndPoint.ToString(), up.RemoteEndpoint);
        Assert.False(node.Endpoint.NeighbourEvents.TryRead(out _));

        // The latest hello's frame size counts.
        Assert.Equal(302, Assert.Single(node.Endpoint.Table.All).MaxSendFrame);
        Assert.Equal(SendResult.TooLarge, await node.Endpoint.SendAsync(up.Neighbour, new byte[303], CancellationToken.None));
        Assert.Equal(SendResult.Sent, await node.Endpoint.SendAsync(up.Neighbour, new byte[302], CancellationToken.None));
        var data = await raw.ReceiveAsync(DatagramType.Data);
        Assert.Equal(303, data.Length);
    }

    [Fact]
    public async Task HelloAck_Unsolicited_LinksWithoutAnAnswer()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        using var raw = new RawPeer();
        var address = NetmodTestContext.RandomAddress();

        // An ack says its sender heard our hello (maybe before we restarted): that is enough.
        await raw.SendAsync(RawPeer.Hello(address, DatagramType.HelloAck), node.LocalEndPoint);
        await node.ExpectUpAsync(address);

        Assert.Equal(PeerState.Up, Assert.Single(node.Endpoint.GetPeers()).State);
        Assert.False(Assert.Single(node.Endpoint.GetPeers()).Inbound);
        await Assert.ThrowsAsync<TimeoutException>(() => raw.ReceiveAsync(DatagramType.HelloAck, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Hello_CarryingOurOwnAddress_IsIgnored()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        using var raw = new RawPeer();

        await raw.SendAsync(RawPeer.Hello(node.Address), node.LocalEndPoint);

        await Eventually.TrueAsync(() => node.Logs.Has(322), "the self hello is noted");
        Assert.Empty(node.Endpoint.Table.All);
        await Assert.ThrowsAsync<TimeoutException>(() => raw.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
    }
}
