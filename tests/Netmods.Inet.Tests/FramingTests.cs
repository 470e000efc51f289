using System.Buffers;
using System.Buffers.Binary;

namespace Router.Netmods.Inet.Tests;

public sealed class FramingTests
{
    private const int Max = 1024;

    [Fact]
    public void TryRead_WholeFrame_ReturnsPayloadAndAdvances()
    {
        var bytes = Frame([1, 2, 3]).Concat(Frame([9])).ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);

        Assert.Equal(FrameStatus.Frame, Framing.TryRead(ref buffer, Max, out var payload, out var length));
        Assert.Equal(3u, length);
        Assert.Equal(new byte[] { 1, 2, 3 }, payload.ToArray());
        Assert.Equal(FrameStatus.Frame, Framing.TryRead(ref buffer, Max, out payload, out _));
        Assert.Equal(new byte[] { 9 }, payload.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryRead_ZeroLength_IsKeepaliveAndConsumesHeaderOnly()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0, 0, 0, 0, 0, 0, 1, 7]);

        Assert.Equal(FrameStatus.Keepalive, Framing.TryRead(ref buffer, Max, out _, out _));
        Assert.Equal(5, buffer.Length);
    }

    [Fact]
    public void TryRead_AllOnesLength_IsRetireMarker()
    {
        var buffer = new ReadOnlySequence<byte>([0xFF, 0xFF, 0xFF, 0xFF]);

        Assert.Equal(FrameStatus.Retire, Framing.TryRead(ref buffer, Max, out _, out _));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryRead_EveryTruncation_IsIncompleteAndLeavesBufferUntouched()
    {
        var bytes = Frame(Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
        for (var cut = 0; cut < bytes.Length; cut++)
        {
            var buffer = new ReadOnlySequence<byte>(bytes, 0, cut);
            Assert.Equal(FrameStatus.Incomplete, Framing.TryRead(ref buffer, Max, out _, out _));
            Assert.Equal(cut, buffer.Length);
        }
    }

    [Fact]
    public void TryRead_LengthAboveMax_IsTooLargeBeforeThePayloadArrives()
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, Max + 1);
        var buffer = new ReadOnlySequence<byte>(header);

        Assert.Equal(FrameStatus.TooLarge, Framing.TryRead(ref buffer, Max, out _, out var length));
        Assert.Equal((uint)Max + 1, length);
    }

    [Fact]
    public void TryRead_LengthEqualToMax_IsAFrame()
    {
        var buffer = new ReadOnlySequence<byte>(Frame(new byte[Max]));

        Assert.Equal(FrameStatus.Frame, Framing.TryRead(ref buffer, Max, out var payload, out _));
        Assert.Equal(Max, payload.Length);
    }

    [Fact]
    public void TryRead_FrameSplitAcrossSegments_ReadsWholeFrame()
    {
        var bytes = Frame(Enumerable.Range(0, 50).Select(i => (byte)i).ToArray());
        var buffer = Segmented(bytes, [1, 2, 10, 37]);

        Assert.Equal(FrameStatus.Frame, Framing.TryRead(ref buffer, Max, out var payload, out _));
        Assert.Equal(bytes[4..], payload.ToArray());
    }

    [Fact]
    public void TryRead_SeededRandomStreams_NeverThrowAndNeverExceedMax()
    {
        var random = new Random(4242);
        var frames = 0;
        for (var iteration = 0; iteration < 5_000; iteration++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);

            // Small lengths make whole frames likely, so the frame path is exercised too.
            if (bytes.Length >= 4 && random.Next(2) == 0)
            {
                bytes[0] = 0;
                bytes[1] = 0;
                bytes[2] = 0;
            }

            var cuts = Enumerable.Range(0, random.Next(0, 4)).Select(_ => random.Next(1, 16)).ToArray();
            var buffer = Segmented(bytes, cuts);
            var maxFrameSize = random.Next(1, 64);
            while (true)
            {
                var before = buffer.Length;
                var status = Framing.TryRead(ref buffer, maxFrameSize, out var payload, out _);
                if (status is FrameStatus.Incomplete or FrameStatus.TooLarge)
                {
                    Assert.Equal(before, buffer.Length);
                    break;
                }

                Assert.True(buffer.Length < before);
                if (status == FrameStatus.Frame)
                {
                    Assert.InRange(payload.Length, 1, maxFrameSize);
                    frames++;
                }
            }
        }

        Assert.True(frames > 100, $"only {frames} frames parsed; the generator no longer exercises the frame path");
    }

    private static byte[] Frame(byte[] payload)
    {
        var bytes = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)payload.Length);
        payload.CopyTo(bytes, 4);
        return bytes;
    }

    /// <summary>Splits <paramref name="bytes"/> into a multi-segment sequence at the given segment lengths.</summary>
    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int[] lengths)
    {
        if (bytes.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var offset = 0;
        Segment? first = null;
        Segment? last = null;
        foreach (var wanted in lengths.Append(bytes.Length))
        {
            var length = Math.Min(wanted, bytes.Length - offset);
            if (length <= 0)
            {
                break;
            }

            var segment = new Segment(bytes.AsMemory(offset, length), last);
            first ??= segment;
            last = segment;
            offset += length;
        }

        if (offset < bytes.Length)
        {
            last = new Segment(bytes.AsMemory(offset), last);
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
