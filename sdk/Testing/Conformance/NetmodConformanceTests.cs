using System.Security.Cryptography;
using Xunit;

namespace Router.Sdk.Testing.Conformance;

/// <summary>
/// The netmod conformance suite: every rule of the <see cref="Netmod"/> contract that the router
/// core relies on, checked against two real instances of the netmod under test — start and stop
/// idempotence, a send/receive round trip, the maximum frame size, buffer ownership, neighbour
/// up and down, behaviour after stop, cancellation, and runs of frames where the netmod takes
/// them (<see cref="IFrameRunFeature"/>).
/// </summary>
/// <remarks>
/// <para>Use: in the netmod's xunit test project, derive a class from this one and implement
/// <see cref="CreateNetmod"/> and <see cref="LinkAsync"/>; every test of the suite then runs
/// against the netmod (<c>dotnet test</c> lists them under the derived class).</para>
/// <code>
/// public sealed class ConformanceTests : NetmodConformanceTests
/// {
///     protected override Netmod CreateNetmod(RouterAddress address) =>
///         new MyFactory().Create(NetmodTestContext.Create("my", new Dictionary&lt;string, string?&gt; { ["Listen:0"] = "127.0.0.1:0" }, address, new CapturingLoggerProvider()));
///
///     protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
///         dialler.AddPeersAsync([((MyNetmod)listener).LocalEndpoint.ToString()], cancellationToken);
/// }
/// </code>
/// <para>Each test creates its own instances and stops them when it ends, so tests may run in
/// any order. Every wait is bounded by <see cref="Timeout"/>; a netmod that never answers
/// fails the test that waited, with a message saying what did not happen.</para>
/// <para>What the suite assumes: the two instances see only each other (no discovery of other
/// routers), on a link that loses nothing while idle (loopback, or memory), and the netmod is a
/// link netmod (<see cref="LinkKind.PointToPoint"/> or <see cref="LinkKind.Broadcast"/>), not an
/// IP interface.</para>
/// </remarks>
public abstract class NetmodConformanceTests
{
    /// <summary>The router's minimum <see cref="NetmodCapabilities.MaxFrameSize"/>: the router refuses a netmod below it.</summary>
    public const int MinimumFrameSize = 512;

    /// <summary>How long the suite waits for anything: an event, a frame, a start or stop. 15 s unless overridden.</summary>
    protected virtual TimeSpan Timeout => TimeSpan.FromSeconds(15);

    /// <summary>
    /// How long the suite watches for something that must not happen (a second Up event, a frame
    /// sent to a neighbour that was left out). 300 ms unless overridden.
    /// </summary>
    protected virtual TimeSpan QuietPeriod => TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// Creates a new instance of the netmod under test, not started, that will announce
    /// <paramref name="address"/> as this router's address (<see cref="NetmodContext.LocalAddress"/>).
    /// Each call must give an instance that can run beside the others (its own free port, its
    /// own device), sees no router but those linked with <see cref="LinkAsync"/>, and uses quick
    /// timers so a neighbour that stops is noticed well within <see cref="Timeout"/>.
    /// </summary>
    /// <param name="address">The router address for the instance's context.</param>
    protected abstract Netmod CreateNetmod(RouterAddress address);

    /// <summary>
    /// Makes two started instances neighbours — usually <c>dialler.AddPeersAsync([the address
    /// listener listens on])</c>. Returns once the request is made; the suite then waits for the
    /// Up events on both sides. The suite also calls it with a stopped <paramref name="dialler"/>
    /// and expects the <see cref="InvalidOperationException"/> of <see cref="Netmod.AddPeersAsync"/>.
    /// </summary>
    /// <param name="dialler">A started instance, to be told about <paramref name="listener"/>.</param>
    /// <param name="listener">A started instance.</param>
    /// <param name="cancellationToken">Cancelled after <see cref="Timeout"/>.</param>
    protected abstract ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken);

    /// <summary>The name is a valid netmod name, the frame size is one the router accepts, and neither changes when started.</summary>
    [Fact]
    public async Task Capabilities_BeforeAndAfterStart_AreUsableAndConstant()
    {
        await using var a = Create("A");
        var before = a.Netmod.Capabilities;
        Assert.False(string.IsNullOrEmpty(before.Name), "Capabilities.Name is empty.");
        Assert.True(before.Name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_'),
            $"Capabilities.Name '{before.Name}' is not a netmod name: lowercase letters, digits, '-' and '_' only.");
        Assert.True(before.MaxFrameSize >= MinimumFrameSize,
            $"Capabilities.MaxFrameSize {before.MaxFrameSize} is below the router's minimum of {MinimumFrameSize} bytes; the router would refuse the netmod.");
        Assert.True(before.Kind != LinkKind.Local, "The netmod is LinkKind.Local (an IP interface); the conformance suite is for link netmods.");

        await a.StartAsync();
        Assert.Equal(before, a.Netmod.Capabilities);
    }

    /// <summary>A second start while started does nothing: the link comes up once.</summary>
    [Fact]
    public async Task StartAsync_CalledTwice_IsIdempotent()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        await a.StartAsync();
        await a.StartAsync();
        await b.StartAsync();
        await Task.WhenAll(a.StartAsync(), b.StartAsync());

        await LinkBoundedAsync(a, b);
        await a.ExpectUpAsync(b);
        await b.ExpectUpAsync(a);
        await a.ExpectNoEventAsync(QuietPeriod, "a start while started must not bring links up again");
        await b.ExpectNoEventAsync(TimeSpan.Zero, "a start while started must not bring links up again");
    }

    /// <summary>Stop may be called any number of times, also at once from two threads: one Down per neighbour, then both channels complete.</summary>
    [Fact]
    public async Task StopAsync_CalledTwice_IsIdempotent()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);

        await Task.WhenAll(a.StopAsync(), a.StopAsync());
        await a.StopAsync();

        var rest = await a.ExpectChannelsCompleteAsync("after StopAsync");
        var down = Assert.Single(rest);
        Assert.True(down.Kind == NeighbourEventKind.Down && down.Neighbour == upAtA.Neighbour,
            $"A: stopping must report the live neighbour {upAtA.Neighbour} down exactly once; got {string.Join(", ", rest)}.");
    }

    /// <summary>Stopping a netmod that never started is safe and completes both channels; sends report <see cref="SendResult.Stopped"/>.</summary>
    [Fact]
    public async Task StopAsync_NeverStarted_CompletesChannelsAndRefusesSends()
    {
        await using var a = Create("A");
        Assert.Equal(SendResult.Stopped, await a.SendAsync(new NeighbourId(1), Payload(16)));

        await a.StopAsync();
        await a.StopAsync();

        var rest = await a.ExpectChannelsCompleteAsync("StopAsync on a netmod that never started");
        Assert.True(rest.Count == 0, $"A: a netmod that never started reported events: {string.Join(", ", rest)}.");
        Assert.Equal(SendResult.Stopped, await a.SendAsync(new NeighbourId(1), Payload(16)));
        Assert.Equal(0, await a.SendAllAsync(Payload(16), null));
    }

    /// <summary>A frame goes from A to B and a reply back, each arriving whole and tagged with the neighbour id its Up event announced.</summary>
    [Fact]
    public async Task SendAsync_RoundTrip_ArrivesIntactFromTheAnnouncedNeighbour()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, upAtB) = await StartLinkedAsync(a, b);

        foreach (var size in new[] { 1, 100, a.Netmod.Capabilities.MaxFrameSize / 2 })
        {
            var request = Payload(size);
            Assert.Equal(SendResult.Sent, await a.SendAsync(upAtA.Neighbour, request));
            var (from, received) = await b.NextFrameAsync($"a {size}-byte frame from A");
            Assert.True(from == upAtB.Neighbour, $"B: the frame came tagged with neighbour {from}, but A's Up event announced {upAtB.Neighbour}.");
            Assert.True(request.AsSpan().SequenceEqual(received), $"B: a {size}-byte frame arrived as {received.Length} different bytes.");

            var reply = Payload(size);
            Assert.Equal(SendResult.Sent, await b.SendAsync(from, reply));
            var (replyFrom, replied) = await a.NextFrameAsync($"the {size}-byte reply from B");
            Assert.True(replyFrom == upAtA.Neighbour, $"A: the reply came tagged with neighbour {replyFrom}, but B's Up event announced {upAtA.Neighbour}.");
            Assert.True(reply.AsSpan().SequenceEqual(replied), $"A: a {size}-byte reply arrived as {replied.Length} different bytes.");
        }
    }

    /// <summary>A frame of exactly <see cref="NetmodCapabilities.MaxFrameSize"/> arrives whole; one byte more is refused as <see cref="SendResult.TooLarge"/> and never sent.</summary>
    [Fact]
    public async Task SendAsync_MaxFrameSize_IsHonoured()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);
        var max = a.Netmod.Capabilities.MaxFrameSize;

        var largest = Payload(max);
        Assert.Equal(SendResult.Sent, await a.SendAsync(upAtA.Neighbour, largest));
        var (_, received) = await b.NextFrameAsync($"a frame of MaxFrameSize ({max} bytes)");
        Assert.True(largest.AsSpan().SequenceEqual(received), $"B: a frame of MaxFrameSize ({max} bytes) arrived as {received.Length} different bytes.");

        Assert.Equal(SendResult.TooLarge, await a.SendAsync(upAtA.Neighbour, Payload(max + 1)));
        Assert.Equal(0, await a.SendAllAsync(Payload(max + 1), null));
        await b.ExpectNoFrameAsync(QuietPeriod, "a frame larger than MaxFrameSize must not be sent");
    }

    /// <summary>The caller owns the frame again once the send completes: overwriting it at once does not change what arrives.</summary>
    [Fact]
    public async Task SendAsync_CallerReusesTheBufferAtOnce_FrameArrivesAsSent()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);

        var buffer = Payload(200);
        var original = buffer.ToArray();
        Assert.Equal(SendResult.Sent, await a.SendAsync(upAtA.Neighbour, buffer));
        Array.Fill(buffer, (byte)0xEE);

        var (_, received) = await b.NextFrameAsync("the frame whose buffer was reused");
        Assert.True(original.AsSpan().SequenceEqual(received),
            "B: the frame changed after SendAsync completed; the netmod must copy what it needs before the send completes.");
    }

    /// <summary>
    /// For a netmod that takes runs (<see cref="IFrameRunFeature"/>; others pass this test
    /// unchecked): every frame of a run arrives alone, whole and in order, the caller may reuse
    /// the run at once, and frames over <see cref="NetmodCapabilities.MaxFrameSize"/> are refused
    /// as <see cref="SendResult.TooLarge"/> and never sent.
    /// </summary>
    [Fact]
    public async Task SendRunAsync_WhenTaken_EveryFrameArrivesAloneWholeAndInOrder()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);
        if (a.Netmod.GetFeature<IFrameRunFeature>() is not { } runs)
        {
            return;
        }

        var frameSize = Math.Min(a.Netmod.Capabilities.MaxFrameSize, 1200);
        var headroom = runs.FrameHeadroom;
        var stride = headroom + frameSize;
        var frames = Enumerable.Range(0, 5).Select(i => Payload(i == 4 ? 100 : frameSize)).ToList();
        var run = new byte[(4 * stride) + headroom + 100];
        for (var i = 0; i < frames.Count; i++)
        {
            frames[i].CopyTo(run, (i * stride) + headroom);
        }

        using (var cts = new CancellationTokenSource(Timeout))
        {
            Assert.Equal(SendResult.Sent, await runs.SendRunAsync(upAtA.Neighbour, run, stride, cts.Token));
        }

        Array.Fill(run, (byte)0xEE);
        for (var i = 0; i < frames.Count; i++)
        {
            var (_, received) = await b.NextFrameAsync($"frame {i} of a run of 5");
            Assert.True(frames[i].AsSpan().SequenceEqual(received), $"B: frame {i} of a run arrived as {received.Length} different bytes (lost, reordered, cut at the wrong place, or changed after SendRunAsync completed).");
        }

        var tooLarge = headroom + a.Netmod.Capabilities.MaxFrameSize + 1;
        using (var cts = new CancellationTokenSource(Timeout))
        {
            Assert.Equal(SendResult.TooLarge, await runs.SendRunAsync(upAtA.Neighbour, new byte[tooLarge + headroom + 1], tooLarge, cts.Token));
        }

        await b.ExpectNoFrameAsync(QuietPeriod, "a run of frames larger than MaxFrameSize must not be sent");
    }

    /// <summary>A neighbour id that no Up event announced is refused as <see cref="SendResult.NoSuchNeighbour"/>.</summary>
    [Fact]
    public async Task SendAsync_UnknownNeighbour_ReturnsNoSuchNeighbour()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);

        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(new NeighbourId(0), Payload(16)));
        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(new NeighbourId(upAtA.Neighbour.Value ^ 0x5A5A_0000_0000), Payload(16)));
        await b.ExpectNoFrameAsync(QuietPeriod, "frames to unknown neighbours must go nowhere");
    }

    /// <summary>Sending to all reaches the one neighbour and counts it; leaving it out sends nothing.</summary>
    [Fact]
    public async Task SendAllAsync_OneNeighbour_ReachesItUnlessLeftOut()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, upAtB) = await StartLinkedAsync(a, b);

        var frame = Payload(64);
        Assert.Equal(1, await a.SendAllAsync(frame, null));
        var (from, received) = await b.NextFrameAsync("the frame sent to all");
        Assert.Equal(upAtB.Neighbour, from);
        Assert.True(frame.AsSpan().SequenceEqual(received), "B: the frame sent to all arrived changed.");

        Assert.Equal(0, await a.SendAllAsync(Payload(64), upAtA.Neighbour));
        await b.ExpectNoFrameAsync(QuietPeriod, "the only neighbour was left out of SendAllAsync");
    }

    /// <summary>Frames sent from several threads at once all arrive, each whole.</summary>
    [Fact]
    public async Task SendAsync_FromSeveralThreadsAtOnce_EveryFrameArrivesWhole()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);

        const int Threads = 4;
        const int PerThread = 16;
        var frames = Enumerable.Range(0, Threads * PerThread).Select(i => Tagged(i, 64 + i)).ToArray();
        var results = await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            var sent = new List<SendResult>();
            for (var i = 0; i < PerThread; i++)
            {
                sent.Add(await a.SendAsync(upAtA.Neighbour, frames[(t * PerThread) + i]).ConfigureAwait(false));
            }

            return sent;
        })));
        Assert.All(results.SelectMany(r => r), r => Assert.Equal(SendResult.Sent, r));

        var seen = new HashSet<int>();
        while (seen.Count < frames.Length)
        {
            var (_, received) = await b.NextFrameAsync($"frame {seen.Count + 1} of {frames.Length} sent from {Threads} threads");
            var index = received.Length >= 4 ? BitConverter.ToInt32(received, 0) : -1;
            Assert.True(index >= 0 && index < frames.Length && frames[index].AsSpan().SequenceEqual(received),
                $"B: a frame of {received.Length} bytes arrived that A never sent (frames sent concurrently were mixed up).");
            Assert.True(seen.Add(index), $"B: frame {index} arrived twice.");
        }
    }

    /// <summary>
    /// When B stops, both ends report the link down — B with its own Down before its channels
    /// complete, A within <see cref="Timeout"/> — and A's old id for B is dead.
    /// </summary>
    [Fact]
    public async Task NeighbourEvents_PeerStops_DownOnBothEndsAndTheOldIdIsDead()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, upAtB) = await StartLinkedAsync(a, b);

        await b.StopAsync();
        var rest = await b.ExpectChannelsCompleteAsync("after StopAsync");
        Assert.True(rest.Count == 1 && rest[0].Kind == NeighbourEventKind.Down && rest[0].Neighbour == upAtB.Neighbour,
            $"B: stopping must report neighbour {upAtB.Neighbour} down once, then complete; got {string.Join(", ", rest)}.");

        await a.ExpectDownAsync(upAtA.Neighbour, "B stopped");
        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(upAtA.Neighbour, Payload(16)));
    }

    /// <summary>A router that returns after its link went down comes up again under a new neighbour id (ids are never reused).</summary>
    [Fact]
    public async Task NeighbourEvents_PeerReturns_UpAgainWithAFreshId()
    {
        await using var a = Create("A");
        var b = Create("B");
        NeighbourEvent first;
        try
        {
            (first, _) = await StartLinkedAsync(a, b);
            await b.StopAsync();
            await a.ExpectDownAsync(first.Neighbour, "B stopped");
        }
        finally
        {
            await b.DisposeAsync();
        }

        await using var again = new ConformanceNode("B (again)", CreateNetmod(b.Address), b.Address, Timeout);
        await again.StartAsync();
        await LinkBoundedAsync(again, a);
        var second = await a.ExpectUpAsync(again);
        await again.ExpectUpAsync(a);
        Assert.True(second.Neighbour != first.Neighbour, $"A: the returning router got neighbour id {second.Neighbour} again; ids must not be reused.");

        Assert.Equal(SendResult.NoSuchNeighbour, await a.SendAsync(first.Neighbour, Payload(16)));
        Assert.Equal(SendResult.Sent, await a.SendAsync(second.Neighbour, Payload(16)));
        await again.NextFrameAsync("a frame over the returned link");
    }

    /// <summary>After stop: sends report <see cref="SendResult.Stopped"/> (also to a neighbour that was up), sending to all reaches nobody, adding peers throws.</summary>
    [Fact]
    public async Task AfterStop_SendsAreStoppedAndAddPeersThrows()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, _) = await StartLinkedAsync(a, b);

        await a.StopAsync();
        Assert.Equal(SendResult.Stopped, await a.SendAsync(upAtA.Neighbour, Payload(16)));
        Assert.Equal(0, await a.SendAllAsync(Payload(16), null));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await LinkAsync(a.Netmod, b.Netmod, CancellationToken.None));
        await a.ExpectChannelsCompleteAsync("after StopAsync");
        await b.ExpectNoFrameAsync(QuietPeriod, "a stopped netmod must send nothing");
    }

    /// <summary>A start cancelled before it begins throws <see cref="OperationCanceledException"/>; the netmod can still be stopped cleanly.</summary>
    [Fact]
    public async Task StartAsync_Cancelled_ThrowsAndStopStillCompletes()
    {
        await using var a = Create("A");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => a.Netmod.StartAsync(cancelled.Token).WaitAsync(Timeout));
        await a.StopAsync();
        await a.ExpectChannelsCompleteAsync("StopAsync after a cancelled start");
        Assert.Equal(SendResult.Stopped, await a.SendAsync(new NeighbourId(1), Payload(16)));
    }

    /// <summary>Adding peers with a cancelled token throws <see cref="OperationCanceledException"/>; an empty peer is refused with <see cref="ArgumentException"/>.</summary>
    [Fact]
    public async Task AddPeersAsync_CancelledOrEmpty_Throws()
    {
        await using var a = Create("A");
        await a.StartAsync();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await a.Netmod.AddPeersAsync(["x"], cancelled.Token));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await a.Netmod.AddPeersAsync([""], CancellationToken.None));
    }

    /// <summary>A stop whose token is already cancelled still releases everything: the neighbour is reported down on both ends and the channels complete.</summary>
    [Fact]
    public async Task StopAsync_Cancelled_StillReleasesEverything()
    {
        await using var a = Create("A");
        await using var b = Create("B");
        var (upAtA, upAtB) = await StartLinkedAsync(a, b);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        try
        {
            await b.Netmod.StopAsync(cancelled.Token).WaitAsync(Timeout);
        }
        catch (OperationCanceledException)
        {
            // Allowed: the token only shortens a graceful close.
        }

        var rest = await b.ExpectChannelsCompleteAsync("StopAsync with a cancelled token");
        Assert.Contains(rest, e => e.Kind == NeighbourEventKind.Down && e.Neighbour == upAtB.Neighbour);
        Assert.Equal(SendResult.Stopped, await b.SendAsync(upAtB.Neighbour, Payload(16)));
        await a.ExpectDownAsync(upAtA.Neighbour, "B stopped with a cancelled token");
    }

    private ConformanceNode Create(string label)
    {
        var address = NetmodTestContext.RandomAddress();
        return new ConformanceNode(label, CreateNetmod(address), address, Timeout);
    }

    /// <summary>Starts both, links A to B and returns the Up events: A's for B, and B's for A.</summary>
    private async Task<(NeighbourEvent UpAtA, NeighbourEvent UpAtB)> StartLinkedAsync(ConformanceNode a, ConformanceNode b)
    {
        await a.StartAsync();
        await b.StartAsync();
        await LinkBoundedAsync(a, b);
        var upAtA = await a.ExpectUpAsync(b);
        var upAtB = await b.ExpectUpAsync(a);
        return (upAtA, upAtB);
    }

    private async Task LinkBoundedAsync(ConformanceNode dialler, ConformanceNode listener)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await LinkAsync(dialler.Netmod, listener.Netmod, cts.Token).AsTask().WaitAsync(Timeout);
    }

    private static byte[] Payload(int size) => RandomNumberGenerator.GetBytes(size);

    /// <summary>A random frame whose first four bytes are <paramref name="index"/>.</summary>
    private static byte[] Tagged(int index, int size)
    {
        var frame = Payload(size);
        BitConverter.TryWriteBytes(frame, index);
        return frame;
    }
}
