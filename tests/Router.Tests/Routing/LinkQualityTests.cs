using Router.Routing;

namespace Router.Tests.Routing;

public class LinkQualityTests
{
    private static readonly RoutingOptions Options = new();
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private static void Hello(LinkQuality quality, ushort seqno, TimeSpan now) =>
        quality.OnHello(new Hello(seqno, 100, 1, 0, 0), now, 1);

    [Fact]
    public void Cost_AllHellosArrive_IsHopCostPlusDefaultRtt()
    {
        var quality = new LinkQuality();
        for (ushort i = 0; i < 16; i++)
        {
            Hello(quality, i, Interval * i);
        }

        Assert.Equal(Options.HopCost + 10, quality.Cost(Options));
    }

    [Fact]
    public void Cost_TwoHellosMissed_IsInfinite_AndRecoversWhenTheyResume()
    {
        var quality = new LinkQuality();
        for (ushort i = 0; i < 5; i++)
        {
            Hello(quality, i, Interval * i);
        }

        quality.CheckMisses(Interval * 6.6);
        Assert.Equal(Metric.Infinity, quality.Cost(Options));

        Hello(quality, 7, Interval * 7);
        Assert.NotEqual(Metric.Infinity, quality.Cost(Options));
    }

    [Fact]
    public void OnHello_NeighbourRestartedItsCounter_IsHeardAgain()
    {
        var quality = new LinkQuality();
        for (ushort i = 100; i < 110; i++)
        {
            Hello(quality, i, Interval * (i - 100));
        }

        quality.CheckMisses(Interval * 14);
        Assert.Equal(Metric.Infinity, quality.Cost(Options));

        // The neighbour's process restarted: its hellos count from 0 again.
        Hello(quality, 0, Interval * 15);
        Hello(quality, 1, Interval * 16);
        Assert.NotEqual(Metric.Infinity, quality.Cost(Options));
    }

    [Fact]
    public void OnHello_DuplicateOrReordered_IsIgnored()
    {
        var quality = new LinkQuality();
        for (ushort i = 0; i < 8; i++)
        {
            Hello(quality, i, Interval * i);
        }

        var before = quality.Cost(Options);
        Hello(quality, 5, Interval * 8.1);
        Assert.Equal(before, quality.Cost(Options));
        Assert.Equal(0, quality.ConsecutiveMisses);
    }

    [Fact]
    public void OnHello_LateHelloAlreadyCountedMissed_CountsAndTheLinkStaysUp()
    {
        var quality = new LinkQuality();
        for (ushort i = 0; i < 8; i++)
        {
            Hello(quality, i, Interval * i);
        }

        // Hellos 8 and 9 are late: the miss timer counts both as lost and moves on.
        quality.CheckMisses(Interval * 9.6);
        Assert.Equal(Metric.Infinity, quality.Cost(Options));

        // They arrive after all, then the next ones on time: nothing is "too old" for ever.
        Hello(quality, 8, Interval * 9.7);
        Hello(quality, 9, Interval * 9.8);
        Assert.Equal(0, quality.ConsecutiveMisses);
        Assert.NotEqual(Metric.Infinity, quality.Cost(Options));
        Hello(quality, 10, Interval * 10);
        Assert.NotEqual(Metric.Infinity, quality.Cost(Options));
    }

    [Fact]
    public void Cost_ABusyMomentAmongFastHellos_DoesNotRaiseIt()
    {
        var quality = new LinkQuality();
        for (ushort i = 0; i < 8; i++)
        {
            // We sent at 1,000 µs, it is back at 1,300 µs: 300 µs.
            quality.OnHello(new Hello(i, 100, 1, 1_000, 0), Interval * i, 1_300);
        }

        Assert.Equal(Options.HopCost + 3, quality.Cost(Options));

        // One hello comes back 20 ms late (a loaded machine): the smoothed RTT shows it, the cost does not.
        quality.OnHello(new Hello(8, 100, 1, 1_000, 0), Interval * 8, 21_000);
        Assert.True(quality.Rtt > TimeSpan.FromMilliseconds(3));
        Assert.Equal(Options.HopCost + 3, quality.Cost(Options));
        Assert.Equal(TimeSpan.FromMicroseconds(300), quality.MinRtt);
    }

    [Fact]
    public void Cost_APathThatGotSlower_ShowsOnceTheRttWindowHasPassed()
    {
        var quality = new LinkQuality();
        ushort seqno = 0;
        for (var i = 0; i < LinkQuality.RttWindow; i++, seqno++)
        {
            quality.OnHello(new Hello(seqno, 100, 1, 1_000, 0), Interval * seqno, 1_300);
        }

        // From now on every hello takes 10 ms.
        for (var i = 0; i < LinkQuality.RttWindow - 1; i++, seqno++)
        {
            quality.OnHello(new Hello(seqno, 100, 1, 1_000, 0), Interval * seqno, 11_000);
            Assert.Equal(Options.HopCost + 3, quality.Cost(Options));
        }

        quality.OnHello(new Hello(seqno, 100, 1, 1_000, 0), Interval * seqno, 11_000);
        Assert.Equal(Options.HopCost + 100, quality.Cost(Options));
    }

    [Fact]
    public void Rtt_IsMeasuredFromTheEchoedTimestamp()
    {
        var quality = new LinkQuality();
        // We sent at 1,000 µs; the neighbour held our hello 300 µs; it is back at 2,500 µs: RTT 1,200 µs.
        quality.OnHello(new Hello(0, 100, 77, 1_000, 300), TimeSpan.FromTicks(25_000), 2_500);
        Assert.Equal(TimeSpan.FromMicroseconds(1_200), quality.Rtt);
        Assert.Equal(Options.HopCost + 12, quality.Cost(Options));
    }
}
