using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Udp.Tests;

/// <summary>Real endpoints on loopback, linked over UDP.</summary>
public sealed class UdpEndpointTests(ITestOutputHelper output)
{
    [Fact]
    public async Task StartAsync_PortZero_BindsAFreePortAndLogsItsBuffers()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());

        var bound = Assert.Single(node.Endpoint.ListenEndpoints);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        Assert.NotEqual(0, bound.Port);
        Assert.True(node.Logs.Has(300, m => m == $"udp listening on 127.0.0.1:{bound.Port}"));
        var buffers = Assert.Single(node.Logs.Entries, e => e.Id.Id == 301);
        Assert.Equal(LogLevel.Debug, buffers.Level);
        Assert.Contains("asked for 4194304-byte buffers", buffers.Message, StringComparison.Ordinal);

        // The kernel reports twice what it grants for bookkeeping; either way far above its
        // 208 KiB default, with FORCE as root or within rmem_max otherwise.
        var socket = Assert.Single(node.Endpoint.Sockets);
        output.WriteLine(buffers.Message);
        Assert.True(socket.ReceiveBufferBytes > 1024 * 1024, $"receive buffer {socket.ReceiveBufferBytes}");
        Assert.True(socket.SendBufferBytes > 1024 * 1024, $"send buffer {socket.SendBufferBytes}");
    }

    [Fact]
    public async Task StartAsync_BufferAboveRmemMax_ForcedPastTheCapOnlyWhenPrivileged()
    {
        const int asked = 16 * 1024 * 1024;
        var settings = Udp.FastSettings();
        settings["SocketBufferBytes"] = asked.ToString(CultureInfo.InvariantCulture);
        var rmemMax = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim(), CultureInfo.InvariantCulture);

        await using var node = await TestNode.StartAsync(settings);

        // Linux reports twice what it grants. SO_RCVBUFFORCE needs CAP_NET_ADMIN (root here);
        // without it the plain option is silently capped at rmem_max.
        var socket = Assert.Single(node.Endpoint.Sockets);
        var expected = Environment.UserName == "root" ? 2 * asked : 2 * Math.Min(asked, rmemMax);
        output.WriteLine($"rmem_max {rmemMax}; asked {asked}; granted {socket.ReceiveBufferBytes} ({socket.BufferMethod})");
        Assert.Equal(expected, socket.ReceiveBufferBytes);
    }

    [Fact]
    public async Task StartAsync_CalledTwice_IsIdempotent()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        var port = node.Port;

        await node.Endpoint.StartAsync(CancellationToken.None);

        Assert.Equal(port, Assert.Single(node.Endpoint.ListenEndpoints).Port);
    }

    [Fact]
    public async Task StartAsync_AddressInUse_ThrowsNamingTheAddress()
    {
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var taken = ((IPEndPoint)blocker.LocalEndPoint!).ToString();
        var settings = Udp.FastSettings();
        settings["Listen:0"] = taken;
        var netmod = new UdpFactory().Create(Udp.Context(settings, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => netmod.StartAsync(CancellationToken.None));
            Assert.Contains(taken, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await netmod.DisposeAsync();
        }
    }

    [Fact]
    public async Task Link_OnePeersTheOther_BothSeeUpWithTheOthersAddress()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));

        var upOnA = await a.ExpectUpAsync(b.Address);
        var upOnB = await b.ExpectUpAsync(a.Address);

        Assert.Equal(b.ListenAddress, upOnA.RemoteEndpoint);
        Assert.Equal(a.ListenAddress, upOnB.RemoteEndpoint);
        Assert.NotEqual(0, upOnA.Neighbour.Value);
        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Single().State == PeerState.Up, "a's configured peer is Up");
        var configured = Assert.Single(a.Endpoint.GetPeers());
        Assert.Equal(new PeerStatus(b.ListenAddress, PeerState.Up, b.Address, upOnA.Neighbour, configured.Since, null, Inbound: false), configured);
        var inbound = Assert.Single(b.Endpoint.GetPeers());
        Assert.Equal(new PeerStatus(a.ListenAddress, PeerState.Up, a.Address, upOnB.Neighbour, inbound.Since, null, Inbound: true), inbound);
    }

    [Fact]
    public async Task Link_BothPeerEachOther_OneNeighbourEachSide()
    {
        var bSettings = Udp.FastSettings();
        await using var b = await TestNode.StartAsync(bSettings);
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        await b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);

        await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);
        await Eventually.TrueAsync(() => b.Endpoint.GetPeers() is [{ State: PeerState.Up }], "b's configured peer is Up and covers the link");

        // Hellos crossing each other make one neighbour, not two.
        await Task.Delay(300);
        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.False(b.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.Single(a.Endpoint.Table.All);
        Assert.Single(b.Endpoint.Table.All);
    }

    [Fact]
    public async Task SendAsync_FramesBothWays_ArriveByteForByteUpToMaxFrameSize()
    {
        const int max = 65000;
        var settings = Udp.FastSettings();
        settings["MaxFrameSize"] = max.ToString(CultureInfo.InvariantCulture);
        await using var b = await TestNode.StartAsync(settings);
        await using var a = await TestNode.StartAsync(new Dictionary<string, string?>(settings) { ["Peers:0"] = b.ListenAddress });
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;
        var random = new Random(7);
        var frames = new[] { 1, 2, 100, 1399, 1400, 1401, 4096, 60_000, max - 1, max }.Select(size =>
        {
            var bytes = new byte[size];
            random.NextBytes(bytes);
            return bytes;
        }).ToArray();

        foreach (var frame in frames)
        {
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, frame, CancellationToken.None));
            Assert.Equal(SendResult.Sent, await b.Endpoint.SendAsync(aOnB, frame, CancellationToken.None));
        }

        // UDP promises no order; loopback keeps it, but the test need not rely on that.
        var atB = new List<byte[]>();
        var atA = new List<byte[]>();
        foreach (var _ in frames)
        {
            var fromA = await b.NextFrameAsync();
            Assert.Equal(aOnB, fromA.From);
            atB.Add(fromA.Bytes);
            var fromB = await a.NextFrameAsync();
            Assert.Equal(bOnA, fromB.From);
            atA.Add(fromB.Bytes);
        }

        foreach (var frame in frames)
        {
            Assert.Contains(atB, x => x.AsSpan().SequenceEqual(frame));
            Assert.Contains(atA, x => x.AsSpan().SequenceEqual(frame));
        }

        Assert.Equal(0, a.Endpoint.Counters.SendErrors + b.Endpoint.Counters.SendErrors);
    }

    [Fact]
    public async Task SendAsync_CallerReusesItsBufferAtOnce_PeerStillGetsWhatWasSent()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var buffer = new byte[64];

        for (var i = 0; i < 100; i++)
        {
            Array.Fill(buffer, (byte)i);
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, buffer, CancellationToken.None));
        }

        var seen = new HashSet<byte>();
        for (var i = 0; i < 100; i++)
        {
            var bytes = (await b.NextFrameAsync()).Bytes;
            Assert.All(bytes, x => Assert.Equal(bytes[0], x));
            seen.Add(bytes[0]);
        }

        Assert.Equal(100, seen.Count);
    }

    [Fact]
    public async Task SendAsync_FrameAboveEitherSidesMaximum_ReturnsTooLarge()
    {
        var small = Udp.FastSettings();
        small["MaxFrameSize"] = "1024";
        var large = Udp.FastSettings();
        large["MaxFrameSize"] = "8000";
        await using var b = await TestNode.StartAsync(small);
        large["Peers:0"] = b.ListenAddress;
        await using var a = await TestNode.StartAsync(large);
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;

        // a accepts 8000 itself, but b advertised 1024 in its hello.
        Assert.Equal(SendResult.TooLarge, await a.Endpoint.SendAsync(bOnA, new byte[1025], CancellationToken.None));
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[1024], CancellationToken.None));
        Assert.Equal(SendResult.TooLarge, await b.Endpoint.SendAsync(aOnB, new byte[1025], CancellationToken.None));
        Assert.Equal(1024, (await b.NextFrameAsync()).Bytes.Length);
    }

    [Fact]
    public async Task Receive_DataAboveOurMaximum_IsCountedAndDropped()
    {
        var small = Udp.FastSettings();
        small["MaxFrameSize"] = "300";
        await using var b = await TestNode.StartAsync(small);
        using var raw = new RawPeer();
        var rawAddress = NetmodTestContext.RandomAddress();

        // A peer that lies about its own limit and ignores ours.
        await raw.SendAsync(RawPeer.Hello(rawAddress), b.LocalEndPoint);
        await b.ExpectUpAsync(rawAddress);
        await raw.SendAsync(RawPeer.Data(new byte[301]), b.LocalEndPoint);
        await raw.SendAsync(RawPeer.Data(new byte[300]), b.LocalEndPoint);

        Assert.Equal(300, (await b.NextFrameAsync()).Bytes.Length);
        Assert.Equal(1, b.Endpoint.Counters.TooLarge);
    }

    [Fact]
    public async Task SendAsync_UnknownNeighbour_ReturnsNoSuchNeighbour()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());

        Assert.Equal(SendResult.NoSuchNeighbour, await node.Endpoint.SendAsync(new NeighbourId(12345), new byte[10], CancellationToken.None));
    }

    [Fact]
    public async Task SendAsync_NeverStarted_ReturnsStopped()
    {
        await using var netmod = new UdpFactory().Create(Udp.Context(Udp.FastSettings(), NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));

        Assert.Equal(SendResult.Stopped, await netmod.SendAsync(new NeighbourId(1), new byte[10], CancellationToken.None));
        Assert.Equal(0, await netmod.SendAllAsync(new byte[10], null, CancellationToken.None));
    }

    [Fact]
    public async Task SendAllAsync_WithExcept_ReachesEveryOtherNeighbourOnly()
    {
        await using var hub = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(hub.ListenAddress));
        await using var b = await TestNode.StartAsync(Udp.FastSettings(hub.ListenAddress));
        await using var c = await TestNode.StartAsync(Udp.FastSettings(hub.ListenAddress));
        var onHub = new Dictionary<RouterAddress, NeighbourId>();
        for (var i = 0; i < 3; i++)
        {
            var up = await hub.NextEventAsync();
            onHub[up.Address] = up.Neighbour;
        }

        foreach (var node in new[] { a, b, c })
        {
            await node.ExpectUpAsync(hub.Address);
        }

        Assert.Equal(2, await hub.Endpoint.SendAllAsync(new byte[] { 1, 2, 3 }, onHub[a.Address], CancellationToken.None));
        Assert.Equal([1, 2, 3], (await b.NextFrameAsync()).Bytes);
        Assert.Equal([1, 2, 3], (await c.NextFrameAsync()).Bytes);
        await Assert.ThrowsAsync<TimeoutException>(() => a.NextFrameAsync(TimeSpan.FromMilliseconds(300)));

        Assert.Equal(3, await hub.Endpoint.SendAllAsync(new byte[] { 4 }, null, CancellationToken.None));
        foreach (var node in new[] { a, b, c })
        {
            Assert.Equal([4], (await node.NextFrameAsync()).Bytes);
        }
    }

    [Fact]
    public async Task Receive_StrangerGarbageAndDataWithoutHello_CountedDroppedAndLinkStillWorks()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        var before = b.Endpoint.Counters.DatagramsReceived;
        using var stranger = new RawPeer();
        var random = new Random(5);
        List<byte[]> garbage =
        [
            [],
            [0x00],
            [0xFF, 1, 2, 3],
            [(byte)DatagramType.Data],
            [(byte)DatagramType.Hello, 1, 2, 3],
            [(byte)DatagramType.Beacon, .. "RTRU"u8, 0, 1],
        ];
        for (var i = 0; i < 20; i++)
        {
            var bytes = new byte[random.Next(1, 1500)];
            random.NextBytes(bytes);
            bytes[0] = (byte)random.Next(6, 256);
            garbage.Add(bytes);
        }

        foreach (var datagram in garbage)
        {
            await stranger.SendAsync(datagram, b.LocalEndPoint);
        }

        await stranger.SendAsync(RawPeer.Data([9, 9, 9]), b.LocalEndPoint);
        await stranger.SendAsync([(byte)DatagramType.Keepalive], b.LocalEndPoint);

        // The data datagram from a stranger is answered with a hello, so a peer that lost its
        // link state can re-link; the frame itself is not delivered.
        var hello = await stranger.ReceiveAsync(DatagramType.Hello);
        Assert.Equal(ParseStatus.Valid, Wire.ParseHello(hello, out var greeting));
        Assert.Equal(b.Address, greeting.Address);
        await Eventually.TrueAsync(() => b.Endpoint.Counters.DatagramsReceived - before >= garbage.Count + 2, "b read every datagram");
        Assert.Equal(garbage.Count, b.Endpoint.Counters.Malformed);
        Assert.Equal(2, b.Endpoint.Counters.NotNeighbour);

        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 7 }, CancellationToken.None));
        var frame = await b.NextFrameAsync();
        Assert.Equal([7], frame.Bytes);
        Assert.Single(b.Endpoint.Table.All);
        Assert.False(b.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task Receive_SeededHostileFlood_EveryDatagramAccountedAndLinkUnharmed()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        var valid = RawPeer.Hello(NetmodTestContext.RandomAddress());
        using var stranger = new RawPeer();
        var random = new Random(21);
        var counters = b.Endpoint.Counters;
        long Accounted() => counters.Malformed + counters.NotNeighbour + counters.Control + counters.ControlQueueFull + counters.HandshakesRateLimited;
        var before = Accounted();
        const int count = 5_000;
        for (var i = 0; i < count; i++)
        {
            byte[] datagram;
            if (i % 2 == 0)
            {
                datagram = new byte[random.Next(0, 200)];
                random.NextBytes(datagram);
            }
            else
            {
                // Mutated hellos with no address (bytes 9..40 stay zero), so none can link.
                datagram = (byte[])valid.Clone();
                datagram.AsSpan(9, 32).Clear();
                var at = random.Next(2) == 0 ? random.Next(9) : random.Next(41, datagram.Length);
                datagram[at] = (byte)random.Next(256);
                datagram = datagram[..random.Next(datagram.Length + 1)];
            }

            await stranger.SendAsync(datagram, b.LocalEndPoint);
            if (i % 256 == 0)
            {
                // Let b keep up so the socket buffer never overflows and every datagram is counted.
                await Eventually.TrueAsync(() => Accounted() - before >= i, "b catches up");
            }
        }

        // Every datagram ends in exactly one count: malformed, from no neighbour, handed to the
        // control loop (version-2 hellos among the mutations, which it refuses), or over the
        // stranger's hello rate.
        await Eventually.TrueAsync(() => Accounted() - before >= count, "b accounted for the flood");
        await Task.Delay(100);
        Assert.Equal(count, Accounted() - before);
        Assert.Equal(0, counters.FramesDelivered);

        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 1 }, CancellationToken.None));
        Assert.Equal([1], (await b.NextFrameAsync()).Bytes);
        Assert.Single(b.Endpoint.Table.All);
        Assert.False(b.Logs.Has(340));
    }

    [Fact]
    public async Task Paths_PeerReachedOnTwoSockets_IsOneNeighbourWithTwoPaths()
    {
        var settings = Udp.FastSettings();
        settings["Listen:1"] = "127.0.0.2:0";
        await using var b = await TestNode.StartAsync(settings);
        var second = b.Endpoint.ListenEndpoints[1].ToString();
        var aSettings = Udp.FastSettings(b.ListenAddress, second);
        aSettings["Listen:0"] = "0.0.0.0:0";
        await using var a = await TestNode.StartAsync(aSettings);

        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().All(p => p.State == PeerState.Up), "both configured peers are Up");

        Assert.All(a.Endpoint.GetPeers(), p => Assert.Equal(bOnA, p.Neighbour));
        Assert.Equal(2, Assert.Single(a.Endpoint.Table.All).Paths.Length);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 5 }, CancellationToken.None));
        Assert.Equal([5], (await b.NextFrameAsync()).Bytes);
        await b.ExpectUpAsync(a.Address);
        await Task.Delay(200);
        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.False(b.Endpoint.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task StopAsync_WithLiveNeighbours_ReportsDownAndCompletesBothChannels()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var up = await a.ExpectUpAsync(b.Address);
        var stop = a.Endpoint.StopAsync(CancellationToken.None);
        await stop.WaitAsync(Udp.Timeout);

        var down = await a.NextEventAsync();
        Assert.Equal(new NeighbourEvent(NeighbourEventKind.Down, up.Neighbour, b.Address, up.RemoteEndpoint), down);
        await a.Endpoint.NeighbourEvents.Completion.WaitAsync(Udp.Timeout);
        await a.Endpoint.Incoming.Completion.WaitAsync(Udp.Timeout);

        Assert.Same(stop, a.Endpoint.StopAsync(CancellationToken.None));
        Assert.Equal(SendResult.Stopped, await a.Endpoint.SendAsync(up.Neighbour, new byte[1], CancellationToken.None));
        Assert.Equal(0, await a.Endpoint.SendAllAsync(new byte[1], null, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.Endpoint.AddPeersAsync(["127.0.0.1:1"], CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.Endpoint.StartAsync(CancellationToken.None));
        await a.DisposeAsync();
    }

    [Fact]
    public async Task StopAsync_NeverStarted_CompletesBothChannels()
    {
        var netmod = new UdpFactory().Create(Udp.Context(Udp.FastSettings(), NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));

        await netmod.StopAsync(CancellationToken.None).WaitAsync(Udp.Timeout);

        await netmod.Incoming.Completion.WaitAsync(Udp.Timeout);
        await netmod.NeighbourEvents.Completion.WaitAsync(Udp.Timeout);
    }

    [Fact]
    public async Task AddPeersAsync_SomeMalformed_ThrowsListingEachAndAddsNone()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            node.Endpoint.AddPeersAsync(["127.0.0.1:1", "no-port", "[::1]:99999", "10.0.0.1:2"], CancellationToken.None).AsTask());

        Assert.Contains("peers[1]", error.Message, StringComparison.Ordinal);
        Assert.Contains("peers[2]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("peers[0]", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("2 udp peer(s) are malformed", error.Message, StringComparison.Ordinal);
        Assert.Empty(node.Endpoint.GetPeers());
    }

    [Fact]
    public async Task AddPeersAsync_AfterStart_LinksAndIgnoresRepeats()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings());

        await a.Endpoint.AddPeersAsync([b.ListenAddress, b.ListenAddress], CancellationToken.None);
        await a.Endpoint.AddPeersAsync([b.ListenAddress], CancellationToken.None);

        await a.ExpectUpAsync(b.Address);
        Assert.Single(a.Endpoint.GetPeers());
    }

    [Fact]
    public async Task Link_PeerGivenByDnsName_IsResolvedAndLinked()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        var byName = $"localhost:{b.Port}";
        await using var a = await TestNode.StartAsync(Udp.FastSettings(byName));

        await a.ExpectUpAsync(b.Address);

        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Single().State == PeerState.Up, "the named peer is Up");
        Assert.Equal(byName, a.Endpoint.GetPeers().Single().Endpoint);
    }

    [Fact]
    public async Task GetPeers_PeerThatNeverAnswers_ConnectingWithLastError()
    {
        // A socket that reads nothing and answers nothing; it only holds the port.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var target = silent.LocalEndPoint!.ToString()!;
        await using var a = await TestNode.StartAsync(Udp.FastSettings(target));

        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Single().LastError is not null, "the peer has an error");

        var status = Assert.Single(a.Endpoint.GetPeers());
        Assert.Equal(PeerState.Connecting, status.State);
        Assert.Equal(target, status.Endpoint);
        Assert.StartsWith("no answer to ", status.LastError, StringComparison.Ordinal);
        Assert.Contains(target, status.LastError, StringComparison.Ordinal);
        Assert.True(a.Logs.Has(330, m => m.Contains(target, StringComparison.Ordinal)));
        Assert.Empty(a.Endpoint.Table.All);
    }

    [Fact]
    public async Task GetPeers_PeerIsThisRouter_StopsGreetingAndSaysSo()
    {
        var settings = Udp.FastSettings();
        await using var a = await TestNode.StartAsync(settings);

        await a.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);

        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Single().LastError == "this is this router's own address", "the peer is known to be this router");
        var status = Assert.Single(a.Endpoint.GetPeers());
        Assert.Equal(PeerState.Connecting, status.State);
        Assert.Equal(a.Address, status.Address);
        Assert.True(a.Logs.Has(323));

        // A second round may have left before the first came back; let it land.
        await Task.Delay(200);
        var received = a.Endpoint.Counters.DatagramsReceived;
        await Task.Delay(400);

        // No more hellos to itself, and never a neighbour.
        Assert.Equal(received, a.Endpoint.Counters.DatagramsReceived);
        Assert.False(a.Endpoint.NeighbourEvents.TryRead(out _));
    }
}
