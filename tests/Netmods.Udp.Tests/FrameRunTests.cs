using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// Runs of frames (<see cref="IFrameRunFeature"/>): with <c>Offload</c> they leave as segmented
/// sends (UDP_SEGMENT) and arrive as coalesced receives (UDP_GRO), one system call each for up
/// to 64 datagrams; without it, one datagram per call. Either way every frame arrives alone,
/// whole and in order. Real sockets on loopback.
/// </summary>
public sealed class FrameRunTests(ITestOutputHelper output)
{
    private const int FrameSize = 1400;

    [Theory]
    [InlineData(true, 3)]
    [InlineData(true, 50)]
    [InlineData(true, 150)]
    [InlineData(false, 50)]
    public async Task SendRunAsync_EveryFrameArrivesAloneWholeAndInOrder(bool offload, int frames)
    {
        var (a, b, bOnA) = await LinkedPairAsync(offload);
        await using var _ = a;
        await using var __ = b;
        var expected = Enumerable.Range(0, frames).Select(i => Frame(i, i == frames - 1 ? 777 : FrameSize)).ToList();
        var stride = a.Endpoint.FrameHeadroom + FrameSize;

        Assert.Equal(SendResult.Sent, await a.Endpoint.SendRunAsync(bOnA, Run(expected, a.Endpoint.FrameHeadroom, stride), stride, CancellationToken.None));

        foreach (var frame in expected)
        {
            Assert.Equal(frame, (await b.NextFrameAsync()).Bytes);
        }

        output.WriteLine($"a: {a.Endpoint.Counters}");
        output.WriteLine($"b: {b.Endpoint.Counters}");
        await Eventually.TrueAsync(() => b.Endpoint.Counters.FramesDelivered == frames, $"b counted {frames} frames delivered", Udp.Timeout);
        if (offload)
        {
            // Up to 46 datagrams of 1,401 bytes per send (65,507 bytes at most), so 1, 2 or 4 sends.
            Assert.Equal((frames + 45) / 46, a.Endpoint.Counters.SegmentedSends);
            Assert.True(b.Endpoint.Counters.CoalescedReceives >= 1, "the kernel handed b several datagrams at once");
        }
        else
        {
            Assert.Equal(0, a.Endpoint.Counters.SegmentedSends);
            Assert.Equal(0, b.Endpoint.Counters.CoalescedReceives);
        }
    }

    [Fact]
    public async Task SendRunAsync_OneFrame_IsAnOrdinaryDatagram()
    {
        var (a, b, bOnA) = await LinkedPairAsync(offload: true);
        await using var _ = a;
        await using var __ = b;
        var frame = Frame(7, 300);

        var stride = a.Endpoint.FrameHeadroom + FrameSize;
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendRunAsync(bOnA, Run([frame], a.Endpoint.FrameHeadroom, stride), stride, CancellationToken.None));

        Assert.Equal(frame, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(0, a.Endpoint.Counters.SegmentedSends);
    }

    [Fact]
    public async Task SendRunAsync_FramesLargerThanTheNeighbourTakes_TooLargeAndNothingSent()
    {
        var (a, b, bOnA) = await LinkedPairAsync(offload: true);
        await using var _ = a;
        await using var __ = b;
        var stride = a.Endpoint.FrameHeadroom + FrameSize + 1;
        var run = Run([Frame(1, FrameSize + 1), Frame(2, 10)], a.Endpoint.FrameHeadroom, stride);

        Assert.Equal(SendResult.TooLarge, await a.Endpoint.SendRunAsync(bOnA, run, stride, CancellationToken.None));

        await Assert.ThrowsAsync<TimeoutException>(() => b.NextFrameAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task SendRunAsync_UnknownNeighbour_NoSuchNeighbour()
    {
        var (a, b, _) = await LinkedPairAsync(offload: true);
        await using var __ = a;
        await using var ___ = b;
        var stride = a.Endpoint.FrameHeadroom + FrameSize;

        Assert.Equal(
            SendResult.NoSuchNeighbour,
            await a.Endpoint.SendRunAsync(new NeighbourId(999_999), Run([Frame(1, 10)], a.Endpoint.FrameHeadroom, stride), stride, CancellationToken.None));
    }

    [Fact]
    public async Task GetFeature_TheEndpointTakesRuns_WithOneByteOfHeadroom()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());

        var runs = node.Endpoint.GetFeature<IFrameRunFeature>();

        Assert.Same(node.Endpoint, runs);
        Assert.Equal(Wire.DataHeaderSize, runs!.FrameHeadroom);
    }

    private static async Task<(TestNode A, TestNode B, NeighbourId BOnA)> LinkedPairAsync(bool offload)
    {
        var bSettings = Udp.FastSettings();
        bSettings["Offload"] = offload ? "true" : "false";
        var b = await TestNode.StartAsync(bSettings);
        var aSettings = Udp.FastSettings(b.ListenAddress);
        aSettings["Offload"] = offload ? "true" : "false";
        var a = await TestNode.StartAsync(aSettings);
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        return (a, b, bOnA);
    }

    // Distinct content per frame, so a frame out of order or cut at the wrong place shows.
    private static byte[] Frame(int index, int length) =>
        Enumerable.Range(0, length).Select(i => (byte)((index * 31) + (i * 7))).ToArray();

    // The run layout: frame i at i × stride + headroom; the headroom bytes hold garbage the
    // netmod must overwrite.
    private static byte[] Run(IReadOnlyList<byte[]> frames, int headroom, int stride)
    {
        var run = new byte[((frames.Count - 1) * stride) + headroom + frames[^1].Length];
        Array.Fill(run, (byte)0xEE);
        for (var i = 0; i < frames.Count; i++)
        {
            frames[i].CopyTo(run, (i * stride) + headroom);
        }

        return run;
    }
}
