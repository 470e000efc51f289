using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>Raw TCP clients that are not well-behaved routers.</summary>
public sealed class HostileInputTests
{
    [Fact]
    public async Task Accept_HttpRequest_ClosesOnlyThatConnectionAndStillLinksRealPeers()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        await using var first = await TestNode.StartAsync(Inet.FastSettings(server.ListenAddress));
        await server.ExpectUpAsync(first.Address);

        await using (var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]))
        {
            await raw.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: router\r\n\r\n"));
            var received = await raw.ReadUntilClosedAsync();

            // Our side spoke first, as the protocol says; then it hung up.
            Assert.Equal(Handshake.HelloSize, received.Length);
        }

        Assert.True(server.Logs.Has(110, m => m.EndsWith("closed: not a Router inet peer (bad handshake)", StringComparison.Ordinal)));
        await using var second = await TestNode.StartAsync(Inet.FastSettings(server.ListenAddress));
        await server.ExpectUpAsync(second.Address);

        // The link that was up all along never noticed.
        Assert.Equal(2, server.Endpoint.Links.All.Length);
        Assert.False(server.Endpoint.NeighbourEvents.TryRead(out _));
        await first.ExpectUpAsync(server.Address);
        Assert.False(first.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task Accept_SeededRandomBytes_EachConnectionClosedAndEndpointUnharmed()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        var random = new Random(99);
        for (var i = 0; i < 20; i++)
        {
            var garbage = new byte[random.Next(1, 2000)];
            random.NextBytes(garbage);
            if (garbage[0] == (byte)'R')
            {
                garbage[0] = 0;
            }

            await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
            await raw.SendAsync(garbage);
            await raw.ReadUntilClosedAsync();
        }

        await using var peer = await TestNode.StartAsync(Inet.FastSettings(server.ListenAddress));
        await server.ExpectUpAsync(peer.Address);
        await Eventually.TrueAsync(() => server.Endpoint.LiveConnections == 1, "only the real peer's connection is open");
    }

    [Fact]
    public async Task Handshake_Version2Hello_IsRefusedAndLoggedWithBothVersions()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);

        await raw.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress(), version: 2));
        var received = await raw.ReadUntilClosedAsync();

        // The refused peer still learns our version from our hello.
        Assert.Equal(HelloStatus.Valid, Handshake.TryParse(received, out var ours));
        Assert.Equal(1, ours.Version);
        var entry = Assert.Single(server.Logs.Entries, e => e.Id.Id == 111);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains("speaks inet protocol v2, this router speaks v1; link refused", entry.Message, StringComparison.Ordinal);
        Assert.False(server.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task Dial_PeerSpeaksVersion2_LinkRefusedAndLogged()
    {
        // A listener that answers every connection with a version 2 hello.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        await using var node = await TestNode.StartAsync(Inet.FastSettings($"127.0.0.1:{port}"));

        using var accepted = await listener.AcceptSocketAsync().WaitAsync(Inet.Timeout);
        await accepted.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress(), version: 2));

        await Eventually.TrueAsync(() => node.Logs.Has(111, m => m.Contains("v2, this router speaks v1", StringComparison.Ordinal)), "the dialler logs the mismatch");
        await Eventually.TrueAsync(
            () => node.Endpoint.GetPeers().Single().LastError?.Contains("speaks inet protocol v2", StringComparison.Ordinal) == true,
            "the peer status names the mismatch");
        Assert.False(node.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task Read_LengthAboveMaxFrameSizeAfterHello_ClosesThatConnection()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        await raw.SendAsync(RawPeer.Hello(address));
        await raw.ReadExactlyAsync(Handshake.HelloSize);
        var up = await server.ExpectUpAsync(address);

        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 131072 + 1);
        await raw.SendAsync(header);
        await raw.ReadUntilClosedAsync();

        var down = await server.NextEventAsync();
        Assert.Equal(NeighbourEventKind.Down, down.Kind);
        Assert.Equal(up.Neighbour, down.Neighbour);
        Assert.True(server.Logs.Has(130, m => m.Contains("131073-byte frame", StringComparison.Ordinal) && m.Contains("131072", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Read_FramesFromRawPeer_AreDeliveredAndKeepalivesAreNot()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        await raw.SendAsync(RawPeer.Hello(address));
        var up = await server.ExpectUpAsync(address);

        // Keepalive, a 3-byte frame, keepalive, a 1-byte frame: all in one write.
        await raw.SendAsync([0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 1, 9]);

        var first = await server.NextFrameAsync();
        Assert.Equal(up.Neighbour, first.From);
        Assert.Equal(new byte[] { 1, 2, 3 }, first.Bytes);
        Assert.Equal(new byte[] { 9 }, (await server.NextFrameAsync()).Bytes);
    }

    [Fact]
    public async Task Keepalive_SilentPeerAfterHello_GetsKeepalivesThenIsDeclaredDown()
    {
        var settings = Inet.FastSettings();
        settings["KeepaliveSeconds"] = "0.2";
        settings["DeadPeerTimeoutSeconds"] = "1";
        await using var server = await TestNode.StartAsync(settings);
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        await raw.SendAsync(RawPeer.Hello(address));
        var up = await server.ExpectUpAsync(address);
        var started = DateTime.UtcNow;

        var received = await raw.ReadUntilClosedAsync(TimeSpan.FromSeconds(10));
        var down = await server.NextEventAsync(TimeSpan.FromSeconds(10));
        var elapsed = DateTime.UtcNow - started;

        Assert.Equal(NeighbourEventKind.Down, down.Kind);
        Assert.Equal(up.Neighbour, down.Neighbour);
        Assert.InRange(elapsed, TimeSpan.FromSeconds(0.8), TimeSpan.FromSeconds(5));

        // After our hello only keepalives (zero lengths) were sent, about one every 0.2 s;
        // at least one, however loaded the machine running the test.
        var afterHello = received.AsSpan(Handshake.HelloSize);
        Assert.True(afterHello.Length >= 4 && afterHello.Length % 4 == 0, $"{afterHello.Length} bytes after the hello");
        Assert.True(afterHello.IndexOfAnyExcept((byte)0) < 0);
        Assert.True(server.Logs.Has(131, m => m.StartsWith("peer ", StringComparison.Ordinal) && m.EndsWith("s; link down", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Handshake_ClientSendsNothing_IsClosedAfterTheHandshakeTimeout()
    {
        var settings = Inet.FastSettings();
        settings["HandshakeTimeoutSeconds"] = "0.5";
        await using var server = await TestNode.StartAsync(settings);
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);

        var received = await raw.ReadUntilClosedAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(Handshake.HelloSize, received.Length);
        await Eventually.TrueAsync(() => server.Logs.Has(113), "the timeout is logged");
        await Eventually.TrueAsync(() => server.Endpoint.LiveConnections == 0, "the connection is released");
        Assert.Equal(1, server.Endpoint.Counters.HandshakeTimeouts);
        await Eventually.TrueAsync(() => server.Endpoint.Inbound.Count == 0, "its place under the inbound limits is given back");
    }

    [Fact]
    public async Task Handshake_HelloWithOurOwnAddress_IsClosedWithoutANeighbour()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);

        await raw.SendAsync(RawPeer.Hello(server.Address));
        await raw.ReadUntilClosedAsync();

        Assert.False(server.Endpoint.NeighbourEvents.TryRead(out _));
    }
}
