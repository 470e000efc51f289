using Router.Sdk;

namespace Router.Tests.Sdk;

public class BackoffTests
{
    [Fact]
    public void Next_GrowsExponentiallyWithJitter_AndStaysUnderTheCap()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), new Random(7));
        var expectedCap = 1.0;
        for (var i = 0; i < 40; i++)
        {
            var delay = backoff.Next().TotalSeconds;
            Assert.InRange(delay, expectedCap / 2, expectedCap);
            expectedCap = Math.Min(60, expectedCap * 2);
        }
    }

    [Fact]
    public void Reset_StartsFromTheFirstDelayAgain()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        for (var i = 0; i < 10; i++)
        {
            backoff.Next();
        }

        backoff.Reset();
        Assert.InRange(backoff.Next().TotalSeconds, 0.5, 1.0);
    }
}
