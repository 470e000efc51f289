using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Sdk;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// The write path without a device: software segmentation, checksum completion, pass-through
/// and malformed frames, checked with the test's own checksum code.
/// </summary>
public sealed class FrameWriterTests
{
    public static TheoryData<bool, int, ushort, byte, bool> SuperPackets()
    {
        var data = new TheoryData<bool, int, ushort, byte, bool>();
        foreach (var ipv4 in new[] { true, false })
        {
            // payload length, segment size: several full segments and a short one, exact
            // multiples, a single short segment, one byte more than a segment, odd sizes, the
            // largest super-packet, and no payload at all.
            foreach (var (payload, size) in new (int, ushort)[] { (10_000, 1448), (1448 * 4, 1448), (500, 1448), (1449, 1448), (6_001, 1001), (65_535 - 40 - 32, 1228), (0, 1448), (3, 1) })
            {
                data.Add(ipv4, payload, size, (byte)(Packets.Ack | Packets.Psh | Packets.Fin | Packets.Cwr | Packets.Ece), true);
                data.Add(ipv4, payload, size, Packets.Ack, false);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SuperPackets))]
    public void Write_SuperPacketToPlainDevice_IsSegmentedWithEveryHeaderAndChecksumRight(bool ipv4, int payloadLength, ushort segmentSize, byte flags, bool ecn)
    {
        var payload = RandomBytes(payloadLength, seed: payloadLength + segmentSize);
        var frame = Packets.SuperPacket(ipv4, sequence: 0xffff_f000, flags, payload, segmentSize, ecn);
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);

        Assert.Equal(SendResult.Sent, writer.Write(frame));

        var expected = Math.Max(1, (payloadLength + segmentSize - 1) / segmentSize);
        Assert.Equal(expected, sink.Packets.Count);
        Assert.Equal(1, counters.SegmentedInSoftware);
        Assert.Equal(expected, counters.PacketsWritten);
        Assert.Equal(0, counters.MalformedDropped);

        var headers = (ipv4 ? 20 : 40) + 32;
        var original = frame.AsSpan(VirtioNetHeader.Size);
        var received = new List<byte>();
        for (var i = 0; i < sink.Packets.Count; i++)
        {
            var segment = sink.Packets[i];
            var transport = ipv4 ? 20 : 40;
            var segmentPayload = segment.AsSpan(headers);
            Assert.Equal(i < expected - 1 ? segmentSize : payloadLength - (i * segmentSize), segmentPayload.Length);
            received.AddRange(segmentPayload.ToArray());

            if (ipv4)
            {
                Assert.Equal(segment.Length, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(2)));
                Assert.Equal((ushort)(0x1234 + i), BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(4)));
                Assert.True(ReferenceChecksum.Ipv4HeaderVerifies(segment), $"IPv4 header checksum of segment {i}");
                Assert.Equal(original[6..10].ToArray(), segment.AsSpan(6, 4).ToArray()); // flags, TTL, protocol unchanged
            }
            else
            {
                Assert.Equal(segment.Length - 40, BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(4)));
                Assert.Equal(original[..4].ToArray(), segment.AsSpan(0, 4).ToArray());
            }

            Assert.Equal(original.Slice(12 - (ipv4 ? 0 : 4), ipv4 ? 8 : 32).ToArray(), segment.AsSpan(ipv4 ? 12 : 8, ipv4 ? 8 : 32).ToArray());
            Assert.True(ReferenceChecksum.TransportVerifies(segment), $"TCP checksum of segment {i}");
            Assert.Equal(unchecked(0xffff_f000u + (uint)(i * segmentSize)), BinaryPrimitives.ReadUInt32BigEndian(segment.AsSpan(transport + 4)));

            var segmentFlags = segment[transport + 13];
            var last = i == expected - 1;
            Assert.Equal(last && (flags & Packets.Fin) != 0, (segmentFlags & Packets.Fin) != 0);
            Assert.Equal(last && (flags & Packets.Psh) != 0, (segmentFlags & Packets.Psh) != 0);
            Assert.Equal(i == 0 && (flags & Packets.Cwr) != 0, (segmentFlags & Packets.Cwr) != 0);
            Assert.Equal(flags & (Packets.Ack | Packets.Ece), segmentFlags & (Packets.Ack | Packets.Ece));

            // Everything else in the TCP header (ports, ack, window, options) is copied.
            Assert.Equal(original.Slice(transport, 4).ToArray(), segment.AsSpan(transport, 4).ToArray());
            Assert.Equal(original.Slice(transport + 8, 5).ToArray(), segment.AsSpan(transport + 8, 5).ToArray());
            Assert.Equal(original.Slice(transport + 14, 2).ToArray(), segment.AsSpan(transport + 14, 2).ToArray());
            Assert.Equal(original.Slice(transport + 18, 14).ToArray(), segment.AsSpan(transport + 18, 14).ToArray());
        }

        Assert.Equal(payload, received.ToArray());
    }

    [Theory]
    [InlineData(true, true, 1000)]
    [InlineData(true, true, 999)]
    [InlineData(false, true, 1000)]
    [InlineData(false, true, 1)]
    [InlineData(true, false, 1000)]
    [InlineData(true, false, 333)]
    [InlineData(false, false, 1000)]
    [InlineData(false, false, 0)]
    public void Write_NeedsChecksumToPlainDevice_CompletesTheChecksum(bool ipv4, bool tcp, int payloadLength)
    {
        var complete = tcp ? Packets.Tcp(ipv4, 77, Packets.Ack, RandomBytes(payloadLength, 3)) : Packets.Udp(ipv4, RandomBytes(payloadLength, 4));
        var checksumOffset = tcp ? 16 : 6;
        var partial = Packets.WithPartialChecksum(complete, checksumOffset);
        var transport = ipv4 ? 20 : 40;
        var frame = Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, (ushort)transport, (ushort)checksumOffset), partial);
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);

        Assert.Equal(SendResult.Sent, writer.Write(frame));

        var written = Assert.Single(sink.Packets);
        Assert.True(ReferenceChecksum.TransportVerifies(written));
        Assert.Equal(complete, written);
        Assert.Equal(1, counters.ChecksumsCompleted);
        Assert.Equal(0, counters.SegmentedInSoftware);
    }

    [Fact]
    public void Write_UdpWhoseChecksumComesOutZero_SendsFFFF()
    {
        // Find a payload whose UDP checksum is 0xffff or 0 either way; 0 must never be sent, as it means "no checksum".
        for (var seed = 0; seed < 200_000; seed++)
        {
            var payload = BitConverter.GetBytes(seed);
            var complete = Packets.Udp(ipv4: true, payload);
            if (BinaryPrimitives.ReadUInt16BigEndian(complete.AsSpan(26)) != 0xffff)
            {
                continue;
            }

            var frame = Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 20, 6), Packets.WithPartialChecksum(complete, 6));
            var (writer, sink, _) = Writer(deviceTakesHeader: false);

            writer.Write(frame);

            Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(Assert.Single(sink.Packets).AsSpan(26)));
            return;
        }

        Assert.Fail("no payload found whose UDP checksum is 0xffff");
    }

    [Fact]
    public void Write_PlainPacketToPlainDevice_IsWrittenWithoutTheHeader()
    {
        var packet = Packets.Udp(ipv4: true, RandomBytes(100, 5));
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);

        Assert.Equal(SendResult.Sent, writer.Write(Packets.Frame(VirtioNetHeader.None, packet)));

        Assert.Equal(packet, Assert.Single(sink.Packets));
        Assert.Equal(packet.Length, counters.BytesWritten);
    }

    [Fact]
    public void Write_AnyFrameToOffloadDevice_IsWrittenAsItIsHeaderIncluded()
    {
        var frame = Packets.SuperPacket(ipv4: true, 1, Packets.Ack, RandomBytes(5000, 6), 1448);
        var (writer, sink, counters) = Writer(deviceTakesHeader: true);

        Assert.Equal(SendResult.Sent, writer.Write(frame));

        Assert.Equal(frame, Assert.Single(sink.Packets));
        Assert.Equal(0, counters.SegmentedInSoftware);
        Assert.Equal(frame.Length - VirtioNetHeader.Size, counters.BytesWritten);
    }

    [Fact]
    public void Write_FrameOverMaxFrameSize_IsTooLarge()
    {
        var (writer, sink, _) = Writer(deviceTakesHeader: true);

        Assert.Equal(SendResult.TooLarge, writer.Write(new byte[VirtioNetHeader.MaxFrameSize + 1]));
        Assert.Empty(sink.Packets);
    }

    [Fact]
    public void Write_DeviceRefuses_CountsAWriteErrorAndStillReturnsSent()
    {
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);
        sink.Result = 22;

        Assert.Equal(SendResult.Sent, writer.Write(Packets.Frame(VirtioNetHeader.None, Packets.Udp(true, [1, 2, 3]))));

        Assert.Equal(1, counters.WriteErrors);
        Assert.Equal(0, counters.PacketsWritten);
    }

    [Fact]
    public void Write_DeviceClosed_ReturnsStopped()
    {
        var (writer, sink, _) = Writer(deviceTakesHeader: false);
        sink.Result = TunDevice.Closed;

        Assert.Equal(SendResult.Stopped, writer.Write(Packets.SuperPacket(true, 1, Packets.Ack, new byte[5000], 1000)));
    }

    public static TheoryData<string, byte[]> MalformedFrames()
    {
        var v4 = Packets.SuperPacket(ipv4: true, 1, Packets.Ack, new byte[3000], 1000);
        var v6 = Packets.SuperPacket(ipv4: false, 1, Packets.Ack, new byte[3000], 1000);
        var udp = Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 20, 6), Packets.WithPartialChecksum(Packets.Udp(true, new byte[50]), 6));
        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "header only", new byte[VirtioNetHeader.Size] },
            { "not IP", Packets.Frame(VirtioNetHeader.None, [0x20, 1, 2, 3]) },
            { "truncated IPv4 header", Mutate(v4, f => f.AsSpan(0, VirtioNetHeader.Size + 12).ToArray()) },
            { "truncated TCP header", Mutate(v4, f => { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 30); return f; }) },
            { "IPv4 total length beyond the frame", Mutate(v4, f => { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 60000); return f; }) },
            { "IPv6 payload length beyond the frame", Mutate(v6, f => { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 60000); return f; }) },
            { "gso size 0", Mutate(v4, f => { f[4] = 0; f[5] = 0; return f; }) },
            { "UDP GSO", Mutate(v4, f => { f[1] = VirtioNetHeader.GsoUdp; return f; }) },
            { "UDP L4 GSO", Mutate(v4, f => { f[1] = VirtioNetHeader.GsoUdpL4; return f; }) },
            { "unknown GSO type", Mutate(v4, f => { f[1] = 9; return f; }) },
            { "TCPv4 GSO on IPv6", Mutate(v6, f => { f[1] = VirtioNetHeader.GsoTcpV4; return f; }) },
            { "GSO of UDP", Mutate(v4, f => { f[VirtioNetHeader.Size + 9] = 17; return f; }) },
            { "IPv6 GSO with an extension header", Mutate(v6, f => { f[VirtioNetHeader.Size + 6] = 0; return f; }) },
            { "IPv4 fragment", Mutate(v4, f => { f[VirtioNetHeader.Size + 6] = 0x20; return f; }) },
            { "TCP data offset below 5", Mutate(v4, f => { f[VirtioNetHeader.Size + 20 + 12] = 0x40; return f; }) },
            { "TCP data offset beyond the packet", Mutate(v4, f => f.AsSpan(0, VirtioNetHeader.Size + 20 + 24).ToArray().Also(g => BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(12), 44))) },
            { "GSO csum_start not the TCP header", Mutate(v4, f => { f[6] = 21; return f; }) },
            { "GSO csum_offset not the TCP checksum", Mutate(v4, f => { f[8] = 6; return f; }) },
            { "csum_start beyond the packet", Mutate(udp, f => { f[6] = 200; return f; }) },
            { "csum_start inside the IP header", Mutate(udp, f => { f[6] = 10; return f; }) },
            { "csum_offset beyond the packet", Mutate(udp, f => { f[8] = 250; return f; }) },
            { "csum_offset odd", Mutate(udp, f => { f[8] = 5; return f; }) },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public void Write_MalformedFrameToPlainDevice_IsCountedAndDropped(string what, byte[] frame)
    {
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);

        Assert.Equal(SendResult.Sent, writer.Write(frame));

        Assert.True(sink.Packets.Count == 0, what);
        Assert.Equal(1, counters.MalformedDropped);
    }

    [Fact]
    public void Write_ThousandsOfRandomMutations_NeverThrowAndEverySegmentVerifies()
    {
        var random = new Random(20251117);
        var originals = new[]
        {
            Packets.SuperPacket(ipv4: true, 5, Packets.Ack | Packets.Psh, RandomBytes(7000, 1), 1448),
            Packets.SuperPacket(ipv4: false, 5, Packets.Ack | Packets.Fin, RandomBytes(4001, 2), 1000, ecn: true),
            Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 20, 16), Packets.WithPartialChecksum(Packets.Tcp(true, 9, Packets.Ack, RandomBytes(900, 3)), 16)),
            Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 40, 6), Packets.WithPartialChecksum(Packets.Udp(false, RandomBytes(300, 4)), 6)),
        };
        var (writer, sink, counters) = Writer(deviceTakesHeader: false);
        var (offloadWriter, offloadSink, _) = Writer(deviceTakesHeader: true);

        for (var i = 0; i < 5000; i++)
        {
            var frame = (byte[])originals[random.Next(originals.Length)].Clone();

            // Mostly the header and the first 80 bytes, where the fields are; sometimes truncate.
            for (var m = random.Next(1, 4); m > 0; m--)
            {
                var at = random.Next(Math.Min(frame.Length, VirtioNetHeader.Size + 80));
                frame[at] = random.Next(3) == 0 ? (byte)0 : (byte)random.Next(256);
            }

            if (random.Next(4) == 0)
            {
                frame = frame.AsSpan(0, random.Next(frame.Length + 1)).ToArray();
            }

            var before = counters.MalformedDropped + counters.PacketsWritten;
            sink.Packets.Clear();

            var result = writer.Write(frame);
            offloadWriter.Write(frame);

            Assert.Equal(SendResult.Sent, result);
            Assert.True(counters.MalformedDropped + counters.PacketsWritten > before, "every frame is written or counted as malformed");
            if (frame.Length > VirtioNetHeader.Size && VirtioNetHeader.Read(frame).IsGso)
            {
                // Whatever went in, a segment that comes out has right checksums.
                foreach (var segment in sink.Packets)
                {
                    Assert.True(ReferenceChecksum.TransportVerifies(segment));
                    Assert.True(segment[0] >> 4 != 4 || ReferenceChecksum.Ipv4HeaderVerifies(segment));
                }
            }
        }

        Assert.True(counters.MalformedDropped > 100, counters.ToString());
        Assert.True(counters.SegmentedInSoftware > 100, counters.ToString());
        Assert.True(offloadSink.Packets.Count > 0);
    }

    [Fact]
    public void Write_SegmentingAndCompleting_AllocatesNothing()
    {
        var superPacket = Packets.SuperPacket(ipv4: true, 5, Packets.Ack, RandomBytes(60_000, 7), 1448);
        var partial = Packets.Frame(new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, 0, 0, 0, 40, 16), Packets.WithPartialChecksum(Packets.Tcp(false, 9, Packets.Ack, RandomBytes(1200, 8)), 16));
        var counters = new TunCounters();
        var writer = new FrameWriter(new DiscardingSink(), deviceTakesHeader: false, counters, NullLogger.Instance, TimeProvider.System, "test0");
        for (var i = 0; i < 100; i++)
        {
            writer.Write(superPacket);
            writer.Write(partial);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            writer.Write(superPacket);
            writer.Write(partial);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1100, counters.SegmentedInSoftware);
    }

    [Fact]
    public void InternetChecksum_RandomData_MatchesTheWordByWordSum()
    {
        var random = new Random(7);
        for (var i = 0; i < 2000; i++)
        {
            var data = RandomBytes(random.Next(0, 3000), i);
            var split = random.Next(0, data.Length / 2 + 1) & ~1;

            var sum = InternetChecksum.Add(data.AsSpan(split), InternetChecksum.Add(data.AsSpan(0, split), 0));

            Assert.Equal(ReferenceChecksum.Sum(data), InternetChecksum.Fold(sum));
        }
    }

    internal static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static (FrameWriter Writer, CollectingSink Sink, TunCounters Counters) Writer(bool deviceTakesHeader)
    {
        var sink = new CollectingSink();
        var counters = new TunCounters();
        return (new FrameWriter(sink, deviceTakesHeader, counters, NullLogger.Instance, TimeProvider.System, "test0"), sink, counters);
    }

    private static byte[] Mutate(byte[] frame, Func<byte[], byte[]> change) => change((byte[])frame.Clone());

    private sealed class CollectingSink : IPacketSink
    {
        public List<byte[]> Packets { get; } = [];

        public int Result { get; set; }

        public int Write(ReadOnlySpan<byte> packet)
        {
            if (Result != 0)
            {
                return Result;
            }

            Packets.Add(packet.ToArray());
            return 0;
        }
    }

    private sealed class DiscardingSink : IPacketSink
    {
        public int Write(ReadOnlySpan<byte> packet) => 0;
    }
}

internal static class ByteArrayExtensions
{
    /// <summary>Runs <paramref name="change"/> on the array and returns it, for one-line test data.</summary>
    public static byte[] Also(this byte[] bytes, Action<byte[]> change)
    {
        change(bytes);
        return bytes;
    }
}
