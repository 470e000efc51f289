namespace Router.Sdk;

/// <summary>
/// Lets a warning of one kind through at most once per <see cref="Interval"/>, so a flood of
/// hostile input shows in counters rather than as a flood of log lines. Thread-safe and
/// allocation-free.
/// </summary>
public sealed class LogThrottle
{
    private readonly TimeProvider _time;
    private long _next;

    /// <summary>Creates a throttle on <paramref name="time"/> with the default interval of 10 seconds.</summary>
    /// <param name="time">The clock (the netmod's <see cref="NetmodContext"/> time provider).</param>
    public LogThrottle(TimeProvider time)
        : this(time, TimeSpan.FromSeconds(10))
    {
    }

    /// <summary>Creates a throttle on <paramref name="time"/> letting one warning through per <paramref name="interval"/>.</summary>
    /// <param name="time">The clock.</param>
    /// <param name="interval">The shortest time between two warnings.</param>
    public LogThrottle(TimeProvider time, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        Interval = interval;
    }

    /// <summary>The shortest time between two warnings.</summary>
    public TimeSpan Interval { get; }

    /// <summary>True for the first call, then for the first call after each <see cref="Interval"/>.</summary>
    public bool ShouldLog()
    {
        var now = _time.GetTimestamp();
        var next = Volatile.Read(ref _next);
        if (next != 0 && now < next)
        {
            return false;
        }

        var later = now + (long)(Interval.TotalSeconds * _time.TimestampFrequency);
        return Interlocked.CompareExchange(ref _next, later, next) == next;
    }
}
