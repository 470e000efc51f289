using System.Buffers.Binary;
using System.Diagnostics;
using Router.Sdk.Testing;

namespace Router.Sdk.Testing.Tests;

public sealed class SimulatedNetworkTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task Link_BothStarted_EachSideSeesTheOtherUpWithItsAddressAndEndpoint()
    {
        var net = new SimulatedNetwork(_time, seed: 1);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);

        net.Link(a, b);

        var atA = Assert.Single(Events(a));
        var atB = Assert.Single(Events(b));
        Assert.Equal(NeighbourEventKind.Up, atA.Kind);
        Assert.Equal(b.LocalAddress, atA.Address);
        Assert.Equal(b.Endpoint, atA.RemoteEndpoint);
        Assert.Equal(NeighbourEventKind.Up, atB.Kind);
        Assert.Equal(a.LocalAddress, atB.Address);
        Assert.Equal(a.Endpoint, atB.RemoteEndpoint);
        Assert.NotEqual(0, atA.Neighbour.Value);
        Assert.Equal(atA.Neighbour, a.GetNeighbourId(b));
        Assert.Equal(atB.Neighbour, b.GetNeighbourId(a));
        Assert.True(net.IsLinkLive(a, b));
    }

    [Fact]
    public async Task StartAsync_LinkedBeforeStart_ReportsUpOnceBothEndsAreStarted()
    {
        var net = new SimulatedNetwork(_time);
        var a = net.CreateNetmod("sim", Address(1));
        var b = net.CreateNetmod("sim", Address(2));
        net.Link(a, b);

        await a.StartAsync(CancellationToken.None);
        Assert.Empty(Events(a));
        Assert.False(net.IsLinkLive(a, b));

        await b.StartAsync(CancellationToken.None);
        await b.StartAsync(CancellationToken.None); // idempotent
        Assert.Equal(NeighbourEventKind.Up, Assert.Single(Events(a)).Kind);
        Assert.Equal(NeighbourEventKind.Up, Assert.Single(Events(b)).Kind);
    }

    [Fact]
    public async Task StartAsync_Cancelled_Throws()
    {
        var net = new SimulatedNetwork(_time);
        var a = net.CreateNetmod("sim", Address(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.StartAsync(new CancellationToken(canceled: true)));
    }

    [Fact]
    public async Task SendAsync_OverLatency_ArrivesExactlyWhenTheLatencyHasElapsed()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = 5 * Ms });
        var start = _time.GetTimestamp();

        Assert.Equal(SendResult.Sent, await a.SendAsync(a.GetNeighbourId(b)!.Value, "ping"u8.ToArray(), CancellationToken.None));
        _time.Advance(5 * Ms - TimeSpan.FromTicks(1));
        Assert.False(b.Incoming.TryRead(out _));
        _time.Advance(TimeSpan.FromTicks(1));
        var ping = Assert.Single(Frames(b));
        Assert.Equal("ping"u8.ToArray(), ping.Bytes);
        Assert.Equal(b.GetNeighbourId(a), ping.From);

        Assert.Equal(SendResult.Sent, await b.SendAsync(ping.From, "pong"u8.ToArray(), CancellationToken.None));
        _time.Advance(5 * Ms - TimeSpan.FromTicks(1));
        Assert.False(a.Incoming.TryRead(out _));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal("pong"u8.ToArray(), Assert.Single(Frames(a)).Bytes);

        Assert.Equal(10 * Ms, _time.GetElapsedTime(start));
        Assert.Equal(new LinkCounters(1, 1, 0, 0, 0), net.GetCounters(a, b));
        Assert.Equal(new LinkCounters(1, 1, 0, 0, 0), net.GetCounters(b, a));
    }

    [Fact]
    public async Task SendAsync_ZeroLatency_ArrivesOnTheNextAdvance()
    {
        var (_, a, b) = await LinkedPair(new LinkProperties());

        await a.SendAsync(a.GetNeighbourId(b)!.Value, new byte[] { 1 }, CancellationToken.None);
        Assert.False(b.Incoming.TryRead(out _));
        _time.Advance(TimeSpan.Zero);
        Assert.Single(Frames(b));
    }

    [Fact]
    public async Task SendAsync_CallerReusesItsBuffer_FrameArrivesAsItWasWhenSent()
    {
        var (_, a, b) = await LinkedPair(new LinkProperties { Latency = Ms });
        var buffer = new byte[] { 1, 2, 3 };

        await a.SendAsync(a.GetNeighbourId(b)!.Value, buffer, CancellationToken.None);
        buffer.AsSpan().Fill(9);
        _time.Advance(Ms);

        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.Single(Frames(b)).Bytes);
    }

    [Fact]
    public async Task SendAsync_TenFramesOf1250BytesOn1Mbps_Arrive10MillisecondsApart()
    {
        var (_, a, b) = await LinkedPair(new LinkProperties { BandwidthBitsPerSecond = 1_000_000, Latency = 2 * Ms });
        var to = a.GetNeighbourId(b)!.Value;
        var frame = new byte[1250];
        for (var i = 0; i < 10; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(frame, i);
            Assert.Equal(SendResult.Sent, await a.SendAsync(to, frame, CancellationToken.None));
        }

        var arrivals = new List<(int Index, TimeSpan At)>();
        for (var step = 0; step < 150; step++)
        {
            _time.Advance(Ms);
            arrivals.AddRange(Frames(b).Select(f => (BinaryPrimitives.ReadInt32BigEndian(f.Bytes), _time.Elapsed)));
        }

        // Each frame takes 1250·8 bits / 1 Mbit/s = 10 ms to transmit, then 2 ms to cross.
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (i, ((i + 1) * 10 + 2) * Ms)), arrivals);
    }

    [Fact]
    public async Task SendAsync_BandwidthQueueFull_ReturnsQueueFullAndCountsIt()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { BandwidthBitsPerSecond = 1_000_000, QueueFrames = 3 });
        var to = a.GetNeighbourId(b)!.Value;
        var frame = new byte[1250];

        var results = new List<SendResult>();
        for (var i = 0; i < 5; i++)
        {
            results.Add(await a.SendAsync(to, frame, CancellationToken.None));
        }

        Assert.Equal([SendResult.Sent, SendResult.Sent, SendResult.Sent, SendResult.QueueFull, SendResult.QueueFull], results);

        _time.Advance(10 * Ms); // the first frame has left the queue
        Assert.Equal(SendResult.Sent, await a.SendAsync(to, frame, CancellationToken.None));
        Assert.Equal(SendResult.QueueFull, await a.SendAsync(to, frame, CancellationToken.None));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(4, Frames(b).Count);
        Assert.Equal(new LinkCounters(Sent: 4, Delivered: 4, Lost: 0, Dropped: 0, QueueFull: 3), net.GetCounters(a, b));
    }

    [Fact]
    public async Task SendAsync_Loss30Percent_LosesAbout30PercentOf10000Frames()
    {
        var delivered = await DeliveredUnderLoss(seed: 42);

        // 10,000 trials at p = 0.7: standard deviation 46 frames; allow more than 6 of them.
        Assert.InRange(delivered.Count, 6700, 7300);
    }

    [Fact]
    public async Task SendAsync_Loss_IsTheSameForTheSameSeedAndDiffersForAnother()
    {
        var first = await DeliveredUnderLoss(seed: 7);
        var again = await DeliveredUnderLoss(seed: 7);
        var other = await DeliveredUnderLoss(seed: 8);

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task SendAsync_LatencyCutWhileFramesInFlight_DoesNotReorder()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = 50 * Ms });
        var to = a.GetNeighbourId(b)!.Value;

        await a.SendAsync(to, new byte[] { 1 }, CancellationToken.None);
        net.SetProperties(a, b, new LinkProperties { Latency = 5 * Ms });
        await a.SendAsync(to, new byte[] { 2 }, CancellationToken.None);

        _time.Advance(10 * Ms);
        Assert.Empty(Frames(b));
        _time.Advance(40 * Ms);
        Assert.Equal([1, 2], Frames(b).Select(f => (int)f.Bytes[0]));

        await a.SendAsync(to, new byte[] { 3 }, CancellationToken.None);
        _time.Advance(5 * Ms);
        Assert.Single(Frames(b));
    }

    [Fact]
    public async Task SetLinkUp_Down_ReportsDownOnBothSidesAndSendsFindNoNeighbour()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = 10 * Ms });
        var idAtA = a.GetNeighbourId(b)!.Value;
        var idAtB = b.GetNeighbourId(a)!.Value;
        await a.SendAsync(idAtA, new byte[] { 1 }, CancellationToken.None); // in flight when the cable is pulled

        net.SetLinkUp(a, b, false);

        Assert.Equal([new NeighbourEvent(NeighbourEventKind.Down, idAtA, b.LocalAddress, b.Endpoint)], Events(a));
        Assert.Equal([new NeighbourEvent(NeighbourEventKind.Down, idAtB, a.LocalAddress, a.Endpoint)], Events(b));
        Assert.False(net.IsLinkLive(a, b));
        Assert.Null(a.GetNeighbourId(b));
        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(idAtA, new byte[] { 2 }, CancellationToken.None));
        Assert.Equal(SendResult.NoSuchNeighbour, await b.SendAsync(idAtB, new byte[] { 2 }, CancellationToken.None));
        Assert.Equal(0, await a.SendAllAsync(new byte[] { 2 }, null, CancellationToken.None));

        net.SetLinkUp(a, b, false); // already down: nothing more
        _time.Advance(20 * Ms);
        Assert.Empty(Frames(b));
        Assert.Empty(Events(a));
        Assert.Equal(new LinkCounters(Sent: 1, Delivered: 0, Lost: 0, Dropped: 1, QueueFull: 0), net.GetCounters(a, b));
    }

    [Fact]
    public async Task SetLinkUp_BackUp_ReportsUpOnBothSidesWithFreshIds()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties());
        var oldAtA = a.GetNeighbourId(b)!.Value;
        var oldAtB = b.GetNeighbourId(a)!.Value;
        net.SetLinkUp(a, b, false);
        Events(a);
        Events(b);

        net.SetLinkUp(a, b, true);

        var upAtA = Assert.Single(Events(a));
        var upAtB = Assert.Single(Events(b));
        Assert.Equal(NeighbourEventKind.Up, upAtA.Kind);
        Assert.Equal(NeighbourEventKind.Up, upAtB.Kind);
        Assert.NotEqual(oldAtA, upAtA.Neighbour);
        Assert.NotEqual(oldAtB, upAtB.Neighbour);
        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(oldAtA, new byte[] { 1 }, CancellationToken.None));
        Assert.Equal(SendResult.Sent, await a.SendAsync(upAtA.Neighbour, new byte[] { 1 }, CancellationToken.None));
        _time.Advance(TimeSpan.Zero);
        Assert.Equal(upAtB.Neighbour, Assert.Single(Frames(b)).From);
    }

    [Fact]
    public async Task SetLinkSilent_DropsEverythingWithoutEvents_UntilItSpeaksAgain()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = Ms });
        var to = a.GetNeighbourId(b)!.Value;

        net.SetLinkSilent(a, b, true);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(SendResult.Sent, await a.SendAsync(to, new byte[] { 1 }, CancellationToken.None));
            Assert.Equal(SendResult.Sent, await b.SendAsync(b.GetNeighbourId(a)!.Value, new byte[] { 1 }, CancellationToken.None));
        }

        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(Frames(a));
        Assert.Empty(Frames(b));
        Assert.Empty(Events(a));
        Assert.Empty(Events(b));
        Assert.True(net.IsLinkLive(a, b));
        Assert.Equal(new LinkCounters(Sent: 10, Delivered: 0, Lost: 10, Dropped: 0, QueueFull: 0), net.GetCounters(a, b));

        net.SetLinkSilent(a, b, false);
        await a.SendAsync(to, new byte[] { 1 }, CancellationToken.None);
        _time.Advance(Ms);
        Assert.Single(Frames(b));
    }

    [Fact]
    public async Task SetOneWayProperties_LossInOneDirection_OtherDirectionStillCarries()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties());
        net.SetOneWayProperties(a, b, new LinkProperties { Loss = 1 });

        await a.SendAsync(a.GetNeighbourId(b)!.Value, new byte[] { 1 }, CancellationToken.None);
        await b.SendAsync(b.GetNeighbourId(a)!.Value, new byte[] { 2 }, CancellationToken.None);
        _time.Advance(TimeSpan.Zero);

        Assert.Empty(Frames(b));
        Assert.Single(Frames(a));
        Assert.Equal(1, net.GetCounters(a, b).Lost);
        Assert.Equal(1, net.GetCounters(b, a).Delivered);
    }

    [Fact]
    public async Task SendAllAsync_StarOfFourWithExcept_ReachesEveryOtherLeaf()
    {
        var net = new SimulatedNetwork(_time);
        var hub = await StartedNetmod(net, 0);
        var leaves = new List<SimulatedNetmod>();
        for (var i = 1; i <= 4; i++)
        {
            var leaf = await StartedNetmod(net, i);
            net.Link(hub, leaf);
            leaves.Add(leaf);
        }

        var except = hub.GetNeighbourId(leaves[1])!.Value;
        Assert.Equal(3, await hub.SendAllAsync(new byte[] { 7 }, except, CancellationToken.None));
        _time.Advance(TimeSpan.Zero);

        Assert.Equal([1, 0, 1, 1], leaves.Select(l => Frames(l).Count));

        Assert.Equal(4, await hub.SendAllAsync(new byte[] { 8 }, null, CancellationToken.None));
        _time.Advance(TimeSpan.Zero);
        Assert.All(leaves, l => Assert.Equal(8, Assert.Single(Frames(l)).Bytes[0]));
        Assert.Equal(0, await hub.SendAllAsync(new byte[hub.Capabilities.MaxFrameSize + 1], null, CancellationToken.None));
    }

    [Fact]
    public async Task SendAsync_LargerThanMaxFrameSize_ReturnsTooLarge()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1, maxFrameSize: 100);
        var b = await StartedNetmod(net, 2, maxFrameSize: 100);
        net.Link(a, b);
        var to = a.GetNeighbourId(b)!.Value;

        Assert.Equal(SendResult.TooLarge, await a.SendAsync(to, new byte[101], CancellationToken.None));
        Assert.Equal(SendResult.Sent, await a.SendAsync(to, new byte[100], CancellationToken.None));
        Assert.Equal(100, a.Capabilities.MaxFrameSize);
    }

    [Fact]
    public async Task SendAsync_ReceiverWithSmallerMaxFrameSize_DropsOnArrivalAndCounts()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1, maxFrameSize: 1500);
        var b = await StartedNetmod(net, 2, maxFrameSize: 100);
        net.Link(a, b);

        Assert.Equal(SendResult.Sent, await a.SendAsync(a.GetNeighbourId(b)!.Value, new byte[200], CancellationToken.None));
        _time.Advance(TimeSpan.Zero);

        Assert.Empty(Frames(b));
        Assert.Equal(1, net.GetCounters(a, b).Dropped);
    }

    [Fact]
    public async Task Incoming_ReaderFallsBehind_DropsAndCountsWhatDoesNotFit()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2, incomingCapacity: 2);
        net.Link(a, b);

        for (var i = 0; i < 5; i++)
        {
            await a.SendAsync(a.GetNeighbourId(b)!.Value, new byte[] { (byte)i }, CancellationToken.None);
        }

        _time.Advance(TimeSpan.Zero);

        Assert.Equal([0, 1], Frames(b).Select(f => (int)f.Bytes[0]));
        Assert.Equal(new LinkCounters(Sent: 5, Delivered: 2, Lost: 0, Dropped: 3, QueueFull: 0), net.GetCounters(a, b));
    }

    [Fact]
    public async Task StopAsync_LiveLinks_ReportsDownBothSidesCompletesChannelsAndIsIdempotent()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = Ms });
        var idAtA = a.GetNeighbourId(b)!.Value;
        var idAtB = b.GetNeighbourId(a)!.Value;
        await b.SendAsync(idAtB, new byte[] { 1 }, CancellationToken.None);
        _time.Advance(Ms); // one frame waits unread in a's Incoming

        await a.StopAsync(CancellationToken.None);
        await a.StopAsync(CancellationToken.None);

        Assert.Equal([new NeighbourEvent(NeighbourEventKind.Down, idAtA, b.LocalAddress, b.Endpoint)], Events(a));
        Assert.Equal([new NeighbourEvent(NeighbourEventKind.Down, idAtB, a.LocalAddress, a.Endpoint)], Events(b));
        await a.NeighbourEvents.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Single(Frames(a)); // frames already received stay readable after stop
        await a.Incoming.Completion.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(SendResult.Stopped, await a.SendAsync(idAtA, new byte[] { 1 }, CancellationToken.None));
        Assert.Equal(0, await a.SendAllAsync(new byte[] { 1 }, null, CancellationToken.None));
        Assert.Equal(SendResult.NoSuchNeighbour, await b.SendAsync(idAtB, new byte[] { 1 }, CancellationToken.None));
        Assert.False(net.IsLinkLive(a, b));
        await Assert.ThrowsAsync<InvalidOperationException>(() => a.StartAsync(CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await a.AddPeersAsync([b.Endpoint], CancellationToken.None));
    }

    [Fact]
    public async Task StopAsync_FramesInFlightToTheStoppedEnd_AreDroppedAndCounted()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties { Latency = 10 * Ms });
        await a.SendAsync(a.GetNeighbourId(b)!.Value, new byte[] { 1 }, CancellationToken.None);

        await b.StopAsync(CancellationToken.None);
        _time.Advance(20 * Ms);

        Assert.Empty(Frames(b));
        Assert.Equal(new LinkCounters(Sent: 1, Delivered: 0, Lost: 0, Dropped: 1, QueueFull: 0), net.GetCounters(a, b));
    }

    [Fact]
    public async Task StopAsync_NeverStarted_CompletesChannelsWithoutEvents()
    {
        var net = new SimulatedNetwork(_time);
        var a = net.CreateNetmod("sim", Address(1));

        Assert.Equal(SendResult.Stopped, await a.SendAsync(new NeighbourId(1), new byte[] { 1 }, CancellationToken.None));
        await a.DisposeAsync();

        await a.Incoming.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        await a.NeighbourEvents.Completion.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Empty(Events(a));
    }

    [Fact]
    public async Task Link_ToAStoppedNetmod_StaysDown()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);
        await b.StopAsync(CancellationToken.None);

        net.Link(a, b);
        net.SetLinkUp(a, b, true);

        Assert.Empty(Events(a));
        Assert.False(net.IsLinkLive(a, b));
    }

    [Fact]
    public async Task Link_Twice_Throws_AndLinkToSelfThrows()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties());
        Assert.Throws<InvalidOperationException>(() => net.Link(b, a));
        Assert.Throws<ArgumentException>(() => net.Link(a, a));
        var other = new SimulatedNetwork(_time).CreateNetmod("sim", Address(3));
        Assert.Throws<ArgumentException>(() => net.Link(a, other));
    }

    [Fact]
    public async Task Unlink_LiveLink_ReportsDownAndForgetsTheLink()
    {
        var (net, a, b) = await LinkedPair(new LinkProperties());

        net.Unlink(a, b);

        Assert.Equal(NeighbourEventKind.Down, Assert.Single(Events(a)).Kind);
        Assert.Equal(NeighbourEventKind.Down, Assert.Single(Events(b)).Kind);
        Assert.Throws<InvalidOperationException>(() => net.GetCounters(a, b));
        Assert.Throws<InvalidOperationException>(() => net.SetLinkUp(a, b, true));

        net.Link(a, b); // a new link with fresh ids
        Assert.Equal(NeighbourEventKind.Up, Assert.Single(Events(a)).Kind);
    }

    [Fact]
    public async Task AddPeersAsync_EndpointsOfOtherNetmods_LinksToThem()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);
        var c = await StartedNetmod(net, 3);

        await a.AddPeersAsync([b.Endpoint, c.Endpoint], CancellationToken.None);
        await a.AddPeersAsync([b.Endpoint], CancellationToken.None); // already linked: ignored

        Assert.Equal([b.Endpoint, c.Endpoint], Events(a).Select(e => e.RemoteEndpoint));
        Assert.True(net.IsLinkLive(a, b));
        Assert.True(net.IsLinkLive(a, c));
    }

    [Fact]
    public async Task AddPeersAsync_UnknownEndpoints_ThrowsListingEachAndAddsNone()
    {
        var net = new SimulatedNetwork(_time);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await a.AddPeersAsync([b.Endpoint, "nowhere/9", a.Endpoint], CancellationToken.None));

        Assert.Contains("nowhere/9", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{a.Endpoint}'", error.Message, StringComparison.Ordinal);
        Assert.False(net.IsLinkLive(a, b));
    }

    [Fact]
    public async Task SendAsync_OnTheSystemClock_ArrivesAfterTheLatencyWithinBoundedRealTime()
    {
        var net = new SimulatedNetwork(TimeProvider.System);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);
        net.Link(a, b, new LinkProperties { Latency = TimeSpan.FromMilliseconds(20) });
        var clock = Stopwatch.StartNew();

        Assert.Equal(SendResult.Sent, await a.SendAsync(a.GetNeighbourId(b)!.Value, "hello"u8.ToArray(), CancellationToken.None));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var frame = await b.Incoming.ReadAsync(timeout.Token);
        clock.Stop();

        try
        {
            Assert.Equal("hello"u8.ToArray(), frame.Span.ToArray());
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(2));
        }
        finally
        {
            frame.Release();
        }
    }

    [Fact]
    public async Task SendAsync_ManyFramesOnTheSystemClockFromSeveralThreads_AllArriveInOrderPerSender()
    {
        var net = new SimulatedNetwork(TimeProvider.System);
        var hub = await StartedNetmod(net, 0, incomingCapacity: 10_000);
        var senders = new List<SimulatedNetmod>();
        for (var i = 1; i <= 4; i++)
        {
            var sender = await StartedNetmod(net, i);
            net.Link(sender, hub, new LinkProperties { Latency = Ms });
            senders.Add(sender);
        }

        await Task.WhenAll(senders.Select(s => Task.Run(async () =>
        {
            var to = s.GetNeighbourId(hub)!.Value;
            var frame = new byte[4];
            for (var n = 0; n < 500; n++)
            {
                BinaryPrimitives.WriteInt32BigEndian(frame, n);
                Assert.Equal(SendResult.Sent, await s.SendAsync(to, frame, CancellationToken.None));
            }
        })));

        var next = new Dictionary<NeighbourId, int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (var received = 0; received < 2000; received++)
        {
            var frame = await hub.Incoming.ReadAsync(timeout.Token);
            var n = BinaryPrimitives.ReadInt32BigEndian(frame.Span);
            Assert.Equal(next.GetValueOrDefault(frame.From), n);
            next[frame.From] = n + 1;
            frame.Release();
        }

        Assert.Equal(4, next.Count);
    }

    private async Task<List<int>> DeliveredUnderLoss(int seed)
    {
        var time = new ManualTimeProvider();
        var net = new SimulatedNetwork(time, seed);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2, incomingCapacity: 10_000);
        net.Link(a, b, new LinkProperties { Loss = 0.3 });
        var to = a.GetNeighbourId(b)!.Value;
        var frame = new byte[4];
        for (var i = 0; i < 10_000; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(frame, i);
            Assert.Equal(SendResult.Sent, await a.SendAsync(to, frame, CancellationToken.None));
        }

        time.Advance(TimeSpan.Zero);
        var delivered = Frames(b).Select(f => BinaryPrimitives.ReadInt32BigEndian(f.Bytes)).ToList();
        var counters = net.GetCounters(a, b);
        Assert.Equal(10_000, counters.Sent);
        Assert.Equal(delivered.Count, counters.Delivered);
        Assert.Equal(10_000, counters.Delivered + counters.Lost);
        Assert.Equal(0, counters.InFlight);
        return delivered;
    }

    private async Task<(SimulatedNetwork Net, SimulatedNetmod A, SimulatedNetmod B)> LinkedPair(LinkProperties properties)
    {
        var net = new SimulatedNetwork(_time, seed: 1);
        var a = await StartedNetmod(net, 1);
        var b = await StartedNetmod(net, 2);
        net.Link(a, b, properties);
        Assert.Single(Events(a));
        Assert.Single(Events(b));
        return (net, a, b);
    }

    private static async Task<SimulatedNetmod> StartedNetmod(SimulatedNetwork net, int n, int maxFrameSize = 1500, int incomingCapacity = 1024)
    {
        var netmod = net.CreateNetmod("sim", Address(n), maxFrameSize, incomingCapacity);
        await netmod.StartAsync(CancellationToken.None);
        return netmod;
    }

    private static RouterAddress Address(int n)
    {
        var bytes = new byte[RouterAddress.Length];
        BinaryPrimitives.WriteInt32BigEndian(bytes, n + 1);
        return RouterAddress.Read(bytes);
    }

    private static List<NeighbourEvent> Events(Netmod netmod)
    {
        var events = new List<NeighbourEvent>();
        while (netmod.NeighbourEvents.TryRead(out var e))
        {
            events.Add(e);
        }

        return events;
    }

    /// <summary>Reads every frame waiting in <paramref name="netmod"/>'s Incoming, copies and releases it.</summary>
    private static List<(NeighbourId From, byte[] Bytes)> Frames(Netmod netmod)
    {
        var frames = new List<(NeighbourId, byte[])>();
        while (netmod.Incoming.TryRead(out var frame))
        {
            frames.Add((frame.From, frame.Span.ToArray()));
            frame.Release();
        }

        return frames;
    }
}
