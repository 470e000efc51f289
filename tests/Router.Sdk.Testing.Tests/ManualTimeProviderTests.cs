using Router.Sdk.Testing;

namespace Router.Sdk.Testing.Tests;

public sealed class ManualTimeProviderTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void Advance_TimersCreatedOutOfOrder_FireInTimeOrderAtTheirDueTime()
    {
        var time = new ManualTimeProvider();
        var fired = new List<(string Name, TimeSpan At)>();
        foreach (var (name, due) in new[] { ("c", 30), ("a", 10), ("b", 20) })
        {
            time.CreateTimer(_ => fired.Add((name, time.Elapsed)), null, due * Ms, Timeout.InfiniteTimeSpan);
        }

        time.Advance(25 * Ms);
        Assert.Equal([("a", 10 * Ms), ("b", 20 * Ms)], fired);
        Assert.Equal(25 * Ms, time.Elapsed);

        time.Advance(100 * Ms);
        Assert.Equal([("a", 10 * Ms), ("b", 20 * Ms), ("c", 30 * Ms)], fired);
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Advance_TimersDueAtTheSameInstant_FireInTheOrderTheyWereScheduled()
    {
        var time = new ManualTimeProvider();
        var fired = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var n = i;
            time.CreateTimer(_ => fired.Add(n), null, 10 * Ms, Timeout.InfiniteTimeSpan);
        }

        time.Advance(10 * Ms);
        Assert.Equal([0, 1, 2, 3, 4], fired);
    }

    [Fact]
    public void Advance_NotYetDue_DoesNotFire()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        time.CreateTimer(_ => count++, null, 10 * Ms, Timeout.InfiniteTimeSpan);

        time.Advance(10 * Ms - TimeSpan.FromTicks(1));
        Assert.Equal(0, count);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, count);
    }

    [Fact]
    public void Advance_DueTimeZero_FiresOnlyOnTheNextAdvance()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        time.CreateTimer(_ => count++, null, TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        Assert.Equal(0, count);

        time.Advance(TimeSpan.Zero);
        Assert.Equal(1, count);
    }

    [Fact]
    public void Advance_PeriodicTimer_FiresOncePerPeriodAtExactTimes()
    {
        var time = new ManualTimeProvider();
        var at = new List<TimeSpan>();
        using var timer = time.CreateTimer(_ => at.Add(time.Elapsed), null, 5 * Ms, 10 * Ms);

        time.Advance(36 * Ms);
        Assert.Equal([5 * Ms, 15 * Ms, 25 * Ms, 35 * Ms], at);
        Assert.Equal(1, time.ActiveTimers);
    }

    [Fact]
    public void Advance_PeriodicTimersInterleaved_FireInTimeOrder()
    {
        var time = new ManualTimeProvider();
        var fired = new List<string>();
        using var fast = time.CreateTimer(_ => fired.Add($"fast@{time.Elapsed.TotalMilliseconds}"), null, 3 * Ms, 3 * Ms);
        using var slow = time.CreateTimer(_ => fired.Add($"slow@{time.Elapsed.TotalMilliseconds}"), null, 5 * Ms, 5 * Ms);

        time.Advance(10 * Ms);
        Assert.Equal(["fast@3", "slow@5", "fast@6", "fast@9", "slow@10"], fired);
    }

    [Fact]
    public void Advance_PeriodZero_FiresOnce()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        time.CreateTimer(_ => count++, null, 1 * Ms, TimeSpan.Zero);

        time.Advance(100 * Ms);
        Assert.Equal(1, count);
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Change_ScheduledTimer_ReschedulesFromTheCurrentTime()
    {
        var time = new ManualTimeProvider();
        var at = new List<TimeSpan>();
        using var timer = time.CreateTimer(_ => at.Add(time.Elapsed), null, 10 * Ms, Timeout.InfiniteTimeSpan);

        time.Advance(8 * Ms);
        Assert.True(timer.Change(10 * Ms, 4 * Ms));
        time.Advance(20 * Ms);

        Assert.Equal([18 * Ms, 22 * Ms, 26 * Ms], at);
    }

    [Fact]
    public void Change_PushedBackManyTimes_FiresOnceAtTheLastDueTimeAndOtherTimersKeepTheirOrder()
    {
        var time = new ManualTimeProvider();
        var fired = new List<(string Name, TimeSpan At)>();
        using var early = time.CreateTimer(_ => fired.Add(("early", time.Elapsed)), null, 5 * Ms, Timeout.InfiniteTimeSpan);
        using var late = time.CreateTimer(_ => fired.Add(("late", time.Elapsed)), null, 50 * Ms, Timeout.InfiniteTimeSpan);
        using var keepalive = time.CreateTimer(_ => fired.Add(("keepalive", time.Elapsed)), null, 10 * Ms, Timeout.InfiniteTimeSpan);

        // Like a keepalive reset on every received frame.
        for (var i = 0; i < 10_000; i++)
        {
            keepalive.Change(10 * Ms + TimeSpan.FromTicks(i), Timeout.InfiniteTimeSpan);
        }

        time.Advance(100 * Ms);
        Assert.Equal([("early", 5 * Ms), ("keepalive", 10 * Ms + TimeSpan.FromTicks(9_999)), ("late", 50 * Ms)], fired);
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Change_InfiniteDueTime_DisablesTheTimer()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        using var timer = time.CreateTimer(_ => count++, null, 10 * Ms, 10 * Ms);

        Assert.True(timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        time.Advance(100 * Ms);

        Assert.Equal(0, count);
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Change_NegativeDueTime_Throws()
    {
        var time = new ManualTimeProvider();
        using var timer = time.CreateTimer(_ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Assert.Throws<ArgumentOutOfRangeException>(() => timer.Change(-2 * Ms, Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void Dispose_ScheduledTimer_NeverFiresAndCannotBeChanged()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        var timer = time.CreateTimer(_ => count++, null, 10 * Ms, 10 * Ms);
        time.Advance(10 * Ms);
        Assert.Equal(1, count);

        timer.Dispose();
        time.Advance(100 * Ms);

        Assert.Equal(1, count);
        Assert.False(timer.Change(1 * Ms, 1 * Ms));
        Assert.Equal(0, time.ActiveTimers);
    }

    [Fact]
    public void Dispose_FromItsOwnCallback_StopsAPeriodicTimer()
    {
        var time = new ManualTimeProvider();
        var count = 0;
        ITimer? timer = null;
        timer = time.CreateTimer(_ => { count++; timer!.Dispose(); }, null, 1 * Ms, 1 * Ms);

        time.Advance(10 * Ms);
        Assert.Equal(1, count);
    }

    [Fact]
    public void Advance_CallbackSchedulesATimerWithinTheSpan_FiresItInTheSameCall()
    {
        var time = new ManualTimeProvider();
        var at = new List<TimeSpan>();
        time.CreateTimer(
            _ => time.CreateTimer(_ => at.Add(time.Elapsed), null, 5 * Ms, Timeout.InfiniteTimeSpan),
            null,
            10 * Ms,
            Timeout.InfiniteTimeSpan);

        time.Advance(20 * Ms);
        Assert.Equal([15 * Ms], at);
    }

    [Fact]
    public void Advance_FromACallback_Throws()
    {
        var time = new ManualTimeProvider();
        Exception? thrown = null;
        time.CreateTimer(_ => thrown = Record.Exception(() => time.Advance(Ms)), null, Ms, Timeout.InfiniteTimeSpan);

        time.Advance(Ms);
        Assert.IsType<InvalidOperationException>(thrown);
    }

    [Fact]
    public void Advance_Negative_Throws()
    {
        var time = new ManualTimeProvider();
        Assert.Throws<ArgumentOutOfRangeException>(() => time.Advance(-Ms));
    }

    [Fact]
    public void Clock_FollowsVirtualTime()
    {
        var start = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        var time = new ManualTimeProvider(start);
        var stamp = time.GetTimestamp();

        time.Advance(TimeSpan.FromSeconds(90));

        Assert.Equal(start.AddSeconds(90), time.GetUtcNow());
        Assert.Equal(TimeSpan.FromSeconds(90), time.GetElapsedTime(stamp));
        Assert.Equal(time.GetUtcNow(), time.GetLocalNow());
    }

    [Fact]
    public async Task TaskDelay_OnTheManualClock_CompletesOnlyWhenAdvanced()
    {
        var time = new ManualTimeProvider();
        var delay = Task.Delay(TimeSpan.FromSeconds(1), time);

        time.Advance(999 * Ms);
        Assert.False(delay.IsCompleted);

        time.Advance(Ms);
        await delay.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void CancellationTokenSource_OnTheManualClock_CancelsWhenAdvanced()
    {
        var time = new ManualTimeProvider();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2), time);

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(cts.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(cts.IsCancellationRequested);
    }

    [Fact]
    public async Task Advance_ConcurrentAdvancesAndTimers_FireEveryTimerOnce()
    {
        var time = new ManualTimeProvider();
        var fired = 0;
        const int Threads = 4;
        const int PerThread = 500;

        var workers = Enumerable.Range(0, Threads).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                time.CreateTimer(_ => Interlocked.Increment(ref fired), null, (i % 7) * Ms, Timeout.InfiniteTimeSpan);
                time.Advance(Ms);
            }
        }));
        await Task.WhenAll(workers);
        time.Advance(10 * Ms);

        Assert.Equal(Threads * PerThread, fired);
        Assert.Equal(0, time.ActiveTimers);
    }
}
