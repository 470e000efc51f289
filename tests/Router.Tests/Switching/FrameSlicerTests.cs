using Router.Sdk;
using Router.Switching;

namespace Router.Tests.Switching;

/// <summary>
/// <see cref="FrameSlicer"/>: a frame longer than the next hop's frames leaves as slices with
/// the frame's header and their own offsets — as one run for a netmod that takes runs, else one
/// send per slice, the same slices either way.
/// </summary>
public sealed class FrameSlicerTests
{
    private static readonly NeighbourId Hop = new(3);

    [Theory]
    [InlineData(1000)] // five slices, the last shorter
    [InlineData(880)]  // four full slices: (300 − 80) × 4
    [InlineData(221)]  // two slices, the last one byte long
    public async Task SendAsync_NetmodTakesRuns_OneRunWithTheSameSlicesAsSendingOneByOne(int payloadLength)
    {
        var frame = Frame(payloadLength, offset: 2000);
        var runs = new RunNetmod("runs", maxFrameSize: 300, headroom: 3);
        var single = new RunNetmod("single", maxFrameSize: 300, headroom: 3);
        var runsInstance = SwitchTests.Instance(runs);
        var singleInstance = SwitchTests.Instance(new OneByOne(single));

        Assert.Equal(SendResult.Sent, await FrameSlicer.SendAsync(runsInstance, Hop, frame, 2000, CancellationToken.None));
        Assert.Equal(SendResult.Sent, await FrameSlicer.SendAsync(singleInstance, Hop, frame, 2000, CancellationToken.None));

        var slices = (payloadLength + 219) / 220;
        Assert.Equal([(303, ((slices - 1) * 303) + 3 + FrameHeader.Size + payloadLength - ((slices - 1) * 220))], runs.Runs);
        Assert.Empty(single.Runs);
        Assert.Equal(single.Frames, runs.Frames);
        Assert.Equal(slices, runs.Frames.Count);
        AssertSlicesOf(frame, 2000, runs.Frames);
        Assert.Equal((slices, (long)payloadLength + (slices * FrameHeader.Size)), (runsInstance.Traffic.FramesOut, runsInstance.Traffic.BytesOut));
        Assert.Equal((singleInstance.Traffic.FramesOut, singleInstance.Traffic.BytesOut), (runsInstance.Traffic.FramesOut, runsInstance.Traffic.BytesOut));
    }

    [Fact]
    public async Task SendAsync_RunRefused_ReturnsWhyAndCountsNothing()
    {
        var runs = new RunNetmod("runs", maxFrameSize: 300, headroom: 1) { RunResult = SendResult.TooLarge };
        var instance = SwitchTests.Instance(runs);

        Assert.Equal(SendResult.TooLarge, await FrameSlicer.SendAsync(instance, Hop, Frame(1000, 0), 0, CancellationToken.None));

        Assert.Equal(0, instance.Traffic.FramesOut);
    }

    private static byte[] Frame(int payloadLength, uint offset)
    {
        var frame = new byte[FrameHeader.Size + payloadLength];
        new FrameHeader(FrameKind.Message, 9, TestAddresses.Random(), TestAddresses.Random(), 77, 5000, offset).Write(frame);
        for (var i = 0; i < payloadLength; i++)
        {
            frame[FrameHeader.Size + i] = (byte)(i * 7);
        }

        return frame;
    }

    private static void AssertSlicesOf(byte[] frame, uint offset, List<byte[]> slices)
    {
        var rebuilt = new byte[frame.Length - FrameHeader.Size];
        foreach (var slice in slices)
        {
            Assert.True(slice.Length <= 300);
            Assert.Equal(FrameError.None, FrameHeader.TryRead(slice, 1 << 20, out var header));
            Assert.Equal((77u, 5000u, (byte)9), (header.MessageId, header.MessageLength, header.HopLimit));
            slice.AsSpan(FrameHeader.Size).CopyTo(rebuilt.AsSpan((int)(header.Offset - offset)));
        }

        Assert.Equal(frame.AsSpan(FrameHeader.Size).ToArray(), rebuilt);
        Assert.Equal(rebuilt.Length, slices.Sum(s => s.Length - FrameHeader.Size));
    }

    // The same netmod without its run feature: the slicer must fall back to one send per slice.
    private sealed class OneByOne(RunNetmod inner) : Netmod
    {
        public override NetmodCapabilities Capabilities => inner.Capabilities;

        public override System.Threading.Channels.ChannelReader<InboundFrame> Incoming => inner.Incoming;

        public override System.Threading.Channels.ChannelReader<NeighbourEvent> NeighbourEvents => inner.NeighbourEvents;

        public override Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => inner.AddPeersAsync(peers, cancellationToken);

        public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) =>
            inner.SendAsync(neighbour, frame, cancellationToken);

        public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
            inner.SendAllAsync(frame, except, cancellationToken);

        public override Task StopAsync(CancellationToken cancellationToken) => inner.StopAsync(cancellationToken);
    }
}
