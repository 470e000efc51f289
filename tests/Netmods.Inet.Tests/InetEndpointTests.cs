using System.Net;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>Two or three real endpoints on loopback, linked over TCP.</summary>
public sealed class InetEndpointTests
{
    [Fact]
    public async Task StartAsync_PortZero_BindsAFreePortAndLogsIt()
    {
        await using var node = await TestNode.StartAsync(Inet.FastSettings());

        var bound = Assert.Single(node.Endpoint.ListenEndpoints);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        Assert.NotEqual(0, bound.Port);
        Assert.True(node.Logs.Has(100, m => m == $"inet listening on 127.0.0.1:{bound.Port}"));
    }

    [Fact]
    public async Task StartAsync_CalledTwice_IsIdempotent()
    {
        await using var node = await TestNode.StartAsync(Inet.FastSettings());
        var port = node.Port;

        await node.Endpoint.StartAsync(CancellationToken.None);

        Assert.Equal(port, Assert.Single(node.Endpoint.ListenEndpoints).Port);
    }

    [Fact]
    public async Task StartAsync_AddressInUse_ThrowsNamingTheAddress()
    {
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        blocker.Listen();
        var taken = ((IPEndPoint)blocker.LocalEndPoint!).ToString();
        var settings = Inet.FastSettings();
        settings["Listen:0"] = taken;
        var netmod = new InetFactory().Create(Inet.Context(settings, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));
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
    public async Task Link_OneDialsTheOther_BothSeeUpWithTheOthersAddress()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));

        var upOnA = await a.ExpectUpAsync(b.Address);
        var upOnB = await b.ExpectUpAsync(a.Address);

        Assert.Equal(b.ListenAddress, upOnA.RemoteEndpoint);
        Assert.StartsWith("127.0.0.1:", upOnB.RemoteEndpoint, StringComparison.Ordinal);
        Assert.NotEqual(0, upOnA.Neighbour.Value);
    }

    [Fact]
    public async Task SendAsync_FramesBothWays_ArriveByteForByteInOrderUpToMaxFrameSize()
    {
        const int max = 65536;
        var settings = Inet.FastSettings();
        settings["MaxFrameSize"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var b = await TestNode.StartAsync(settings);
        var aSettings = new Dictionary<string, string?>(settings) { ["Peers:0"] = b.ListenAddress };
        await using var a = await TestNode.StartAsync(aSettings);
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;
        var random = new Random(7);
        var sizes = new[] { 1, 2, 100, 1400, 4096, 60_000, max, max - 1, 3 };
        var frames = sizes.Select(size =>
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

        foreach (var frame in frames)
        {
            var atB = await b.NextFrameAsync();
            Assert.Equal(aOnB, atB.From);
            Assert.Equal(frame, atB.Bytes);
            var atA = await a.NextFrameAsync();
            Assert.Equal(bOnA, atA.From);
            Assert.Equal(frame, atA.Bytes);
        }
    }

    [Fact]
    public async Task SendAsync_CallerReusesItsBufferAtOnce_PeerStillGetsWhatWasSent()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var buffer = new byte[64];

        for (var i = 0; i < 100; i++)
        {
            Array.Fill(buffer, (byte)i);
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, buffer, CancellationToken.None));
        }

        for (var i = 0; i < 100; i++)
        {
            Assert.All((await b.NextFrameAsync()).Bytes, x => Assert.Equal((byte)i, x));
        }
    }

    [Fact]
    public async Task SendAsync_FrameAboveEitherSidesMaximum_ReturnsTooLarge()
    {
        var small = Inet.FastSettings();
        small["MaxFrameSize"] = "2048";
        await using var b = await TestNode.StartAsync(small);
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;

        // a accepts 128 KiB itself, but b advertised 2 KiB in its hello.
        Assert.Equal(SendResult.TooLarge, await a.Endpoint.SendAsync(bOnA, new byte[2049], CancellationToken.None));
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[2048], CancellationToken.None));
        Assert.Equal(SendResult.TooLarge, await b.Endpoint.SendAsync(aOnB, new byte[2049], CancellationToken.None));
        Assert.Equal(2048, (await b.NextFrameAsync()).Bytes.Length);
    }

    [Fact]
    public async Task SendAsync_UnknownNeighbour_ReturnsNoSuchNeighbour()
    {
        await using var node = await TestNode.StartAsync(Inet.FastSettings());

        Assert.Equal(SendResult.NoSuchNeighbour, await node.Endpoint.SendAsync(new NeighbourId(12345), new byte[10], CancellationToken.None));
    }

    [Fact]
    public async Task SendAsync_NeverStarted_ReturnsStopped()
    {
        var netmod = new InetFactory().Create(Inet.Context(Inet.FastSettings(), NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));
        try
        {
            Assert.Equal(SendResult.Stopped, await netmod.SendAsync(new NeighbourId(1), new byte[10], CancellationToken.None));
        }
        finally
        {
            await netmod.DisposeAsync();
        }
    }

    [Fact]
    public async Task SendAllAsync_WithExcept_QueuesToEveryOtherNeighbourOnly()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var c = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress, c.ListenAddress));
        var ups = new[] { await a.NextEventAsync(), await a.NextEventAsync() };
        var bOnA = ups.Single(e => e.Address == b.Address).Neighbour;
        var cOnA = ups.Single(e => e.Address == c.Address).Neighbour;

        Assert.Equal(1, await a.Endpoint.SendAllAsync(new byte[] { 1 }, bOnA, CancellationToken.None));
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 2 }, CancellationToken.None));
        Assert.Equal(2, await a.Endpoint.SendAllAsync(new byte[] { 3 }, null, CancellationToken.None));
        Assert.Equal(1, await a.Endpoint.SendAllAsync(new byte[] { 4 }, cOnA, CancellationToken.None));

        // Frames on one link keep their order, so had b been sent frame 1 it would come first.
        Assert.Equal(new byte[] { 2 }, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(new byte[] { 3 }, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(new byte[] { 4 }, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(new byte[] { 1 }, (await c.NextFrameAsync()).Bytes);
        Assert.Equal(new byte[] { 3 }, (await c.NextFrameAsync()).Bytes);
    }

    [Fact]
    public async Task SendAsync_ReceiverNotReading_WaitsForQueueSpaceInsteadOfGrowing()
    {
        var settings = Inet.FastSettings();
        settings["SendQueueFrames"] = "16";
        await using var b = await TestNode.StartAsync(settings);
        await using var a = await TestNode.StartAsync(new Dictionary<string, string?>(settings) { ["Peers:0"] = b.ListenAddress });
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var frame = new byte[16 * 1024];

        // b never reads Incoming: its 1024-frame channel fills, then the socket buffers, then
        // a's send queue; from there on a send must wait rather than queue more.
        var sent = 0;
        while (true)
        {
            var pending = a.Endpoint.SendAsync(bOnA, frame, CancellationToken.None).AsTask();
            if (await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(1))) != pending)
            {
                break;
            }

            Assert.Equal(SendResult.Sent, await pending);
            sent++;
            Assert.True(sent < 20_000, "20,000 frames (320 MB) queued without backpressure");
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.Endpoint.SendAsync(bOnA, frame, cancel.Token).AsTask());
        Assert.True(sent >= 1024, $"only {sent} frames were queued before backpressure; the incoming channel alone holds 1024");
    }

    [Fact]
    public async Task StopAsync_WithLiveNeighbour_ReportsDownThenCompletesBothChannels()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var up = await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        await a.Endpoint.StopAsync(CancellationToken.None);
        await a.Endpoint.StopAsync(CancellationToken.None);

        var down = await a.NextEventAsync();
        Assert.Equal(new NeighbourEvent(NeighbourEventKind.Down, up.Neighbour, b.Address, up.RemoteEndpoint), down);
        await a.Endpoint.NeighbourEvents.Completion.WaitAsync(Inet.Timeout);
        await a.Endpoint.Incoming.Completion.WaitAsync(Inet.Timeout);
        Assert.Equal(SendResult.Stopped, await a.Endpoint.SendAsync(up.Neighbour, new byte[1], CancellationToken.None));
        Assert.Equal(0, await a.Endpoint.SendAllAsync(new byte[1], null, CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.Endpoint.AddPeersAsync(["127.0.0.1:1"], CancellationToken.None).AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.Endpoint.StartAsync(CancellationToken.None));

        // The other side notices too.
        var downOnB = await b.NextEventAsync();
        Assert.Equal(NeighbourEventKind.Down, downOnB.Kind);
        Assert.Equal(0, a.Endpoint.LiveConnections);
    }

    [Fact]
    public async Task StopAsync_NeverStarted_CompletesBothChannels()
    {
        var netmod = new InetFactory().Create(Inet.Context(Inet.FastSettings(), NetmodTestContext.RandomAddress(), new CapturingLoggerProvider()));

        await netmod.StopAsync(CancellationToken.None);
        await netmod.DisposeAsync();

        await netmod.NeighbourEvents.Completion.WaitAsync(Inet.Timeout);
        await netmod.Incoming.Completion.WaitAsync(Inet.Timeout);
        Assert.False(netmod.NeighbourEvents.TryRead(out _));
    }

    [Fact]
    public async Task AddPeersAsync_SomeMalformed_ThrowsListingEachAndAddsNone()
    {
        await using var node = await TestNode.StartAsync(Inet.FastSettings());

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            node.Endpoint.AddPeersAsync(["127.0.0.1:5860", "no-port", "[::1]:99999"], CancellationToken.None).AsTask());

        Assert.Contains("peers[1]", error.Message, StringComparison.Ordinal);
        Assert.Contains("peers[2]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("peers[0]", error.Message, StringComparison.Ordinal);
        Assert.Empty(node.Endpoint.GetPeers());
    }

    [Fact]
    public async Task AddPeersAsync_WhileRunning_LinksAndIgnoresRepeats()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings());

        await a.Endpoint.AddPeersAsync([b.ListenAddress, b.ListenAddress], CancellationToken.None);
        await a.Endpoint.AddPeersAsync([b.ListenAddress], CancellationToken.None);

        await a.ExpectUpAsync(b.Address);
        var peer = Assert.Single(a.Endpoint.GetPeers());
        Assert.Equal(b.ListenAddress, peer.Endpoint);
    }

    [Fact]
    public async Task GetPeers_DialledInboundAndUnreachable_ReportsEachState()
    {
        // A port that refuses connections: bound, never listening.
        using var closed = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        closed.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var unreachable = ((IPEndPoint)closed.LocalEndPoint!).ToString();
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress, unreachable));
        var up = await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);

        await Eventually.TrueAsync(() => a.Endpoint.GetPeers().Any(p => p.Endpoint == unreachable && p.LastError is not null), "the unreachable peer has an error");

        var peers = a.Endpoint.GetPeers();
        var dialled = Assert.Single(peers, p => p.Endpoint == b.ListenAddress);
        Assert.Equal(PeerState.Up, dialled.State);
        Assert.Equal(b.Address, dialled.Address);
        Assert.Equal(up.Neighbour, dialled.Neighbour);
        Assert.False(dialled.Inbound);
        var failing = Assert.Single(peers, p => p.Endpoint == unreachable);
        Assert.Equal(PeerState.Connecting, failing.State);
        Assert.Null(failing.Neighbour);
        var inbound = Assert.Single(b.Endpoint.GetPeers());
        Assert.Equal(PeerState.Up, inbound.State);
        Assert.True(inbound.Inbound);
        Assert.Equal(a.Address, inbound.Address);
    }

    [Fact]
    public async Task Peer_IsThisRouter_IsLoggedOnceAndNotDialledAgain()
    {
        await using var node = await TestNode.StartAsync(Inet.FastSettings());

        await node.Endpoint.AddPeersAsync([node.ListenAddress], CancellationToken.None);

        await Eventually.TrueAsync(() => node.Logs.Has(142), "the self-peer is logged");
        await Task.Delay(500);
        Assert.Single(node.Logs.Entries, e => e.Id.Id == 142);
        var peer = Assert.Single(node.Endpoint.GetPeers());
        Assert.Equal(PeerState.Idle, peer.State);
        Assert.Equal(node.Address, peer.Address);
        Assert.False(node.Endpoint.NeighbourEvents.TryRead(out _));
        Assert.Equal(0, node.Endpoint.LiveConnections);
    }

    [Fact]
    public async Task Link_OverIPv6Loopback_ComesUp()
    {
        var settings = Inet.FastSettings();
        settings["Listen:0"] = "[::1]:0";
        await using var b = await TestNode.StartAsync(settings);
        Assert.Equal("[::1]", b.ListenAddress[..5]);
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));

        var up = await a.ExpectUpAsync(b.Address);

        Assert.Equal(b.ListenAddress, up.RemoteEndpoint);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(up.Neighbour, new byte[] { 42 }, CancellationToken.None));
        Assert.Equal(new byte[] { 42 }, (await b.NextFrameAsync()).Bytes);
    }

    [Fact]
    public async Task Incoming_Frame_IsTaggedWithTheSenderAndWritableInPlace()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;

        await a.Endpoint.SendAsync(bOnA, new byte[] { 5, 6, 7 }, CancellationToken.None);
        using var cts = new CancellationTokenSource(Inet.Timeout);
        var frame = await b.Endpoint.Incoming.ReadAsync(cts.Token);

        // The reader may rewrite its frame in place (the router decrements the hop limit).
        Assert.Equal(aOnB, frame.From);
        Assert.Equal(3, frame.Length);
        frame.Span[0] = 99;
        Assert.Equal(new byte[] { 99, 6, 7 }, frame.Memory.ToArray());
        frame.Release();
    }
}
