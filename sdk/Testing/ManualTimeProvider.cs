namespace Router.Sdk.Testing;

/// <summary>
/// A clock that moves only when a test moves it. Give it to the code under test (for a
/// netmod, as <see cref="NetmodContext.Time"/>); then <see cref="Advance"/> moves time
/// forward and fires every timer that falls due, in time order, so keepalives, timeouts,
/// retries and <see cref="Task.Delay(TimeSpan, TimeProvider)"/> run without real waiting and
/// the same way on every run.
/// </summary>
/// <remarks>
/// <para>Timers: <see cref="CreateTimer"/> returns an <see cref="ITimer"/> with the semantics of
/// <see cref="System.Threading.Timer"/>: a due time of <see cref="Timeout.InfiniteTimeSpan"/>
/// never fires; a period of zero or <see cref="Timeout.InfiniteTimeSpan"/> fires once;
/// <see cref="ITimer.Change"/> reschedules from the current virtual time; a disposed timer never
/// fires again. Timers fire only inside <see cref="Advance"/>, never when created or changed:
/// a timer due now (due time zero) fires on the next <see cref="Advance"/>, even
/// <c>Advance(TimeSpan.Zero)</c>.</para>
/// <para>Callbacks run synchronously on the thread calling <see cref="Advance"/>, one at a time,
/// with the clock set to the timer's due time; timers due at the same instant fire in the order
/// they were scheduled. A callback may create, change and dispose timers (a timer it schedules
/// within the advanced span fires in the same call) but must not call <see cref="Advance"/>
/// (that throws <see cref="InvalidOperationException"/>) nor block on another thread that does.
/// Code awaiting a timer-driven task (<see cref="Task.Delay(TimeSpan, TimeProvider)"/>, a
/// timeout) often resumes synchronously inside <see cref="Advance"/>, but may resume on the
/// thread pool and still be running when <see cref="Advance"/> returns: a test that needs the
/// effect of such code waits for it, rather than assuming either. An exception thrown by a
/// callback propagates out of <see cref="Advance"/>; the clock stays at that timer's due time.</para>
/// <para>Thread-safety: every member may be called from any thread; calls to
/// <see cref="Advance"/> from several threads run one after another.</para>
/// </remarks>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly Lock _advanceGate = new();
    private readonly PriorityQueue<ScheduledFire, (long Due, long Sequence)> _queue = new();
    private readonly DateTimeOffset _start;
    private long _now;
    private long _sequence;
    private int _activeTimers;
    private int _staleEntries;
    private int _advancingThread;

    /// <summary>Creates a clock that reads 2000-01-01T00:00:00Z.</summary>
    public ManualTimeProvider()
        : this(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Creates a clock that reads <paramref name="start"/>.</summary>
    /// <param name="start">The initial wall-clock time (<see cref="GetUtcNow"/>).</param>
    public ManualTimeProvider(DateTimeOffset start) => _start = start.ToUniversalTime();

    /// <summary>How far the clock has been advanced since it was created.</summary>
    public TimeSpan Elapsed
    {
        get
        {
            lock (_gate)
            {
                return new TimeSpan(_now);
            }
        }
    }

    /// <summary>Number of timers that will fire if time advances far enough (created, not disposed, not disabled).</summary>
    public int ActiveTimers
    {
        get
        {
            lock (_gate)
            {
                return _activeTimers;
            }
        }
    }

    /// <summary>Timestamps are in <see cref="TimeSpan"/> ticks (100 ns).</summary>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>UTC, so local and UTC times agree on every machine.</summary>
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>The start time plus <see cref="Elapsed"/>.</summary>
    public override DateTimeOffset GetUtcNow() => _start + Elapsed;

    /// <summary>The virtual time in ticks of <see cref="TimestampFrequency"/>: zero at creation.</summary>
    public override long GetTimestamp() => Elapsed.Ticks;

    /// <summary>
    /// Creates a timer on the virtual clock. It fires only inside <see cref="Advance"/>; see the
    /// class remarks for its semantics.
    /// </summary>
    /// <param name="callback">Runs on the thread calling <see cref="Advance"/> each time the timer fires.</param>
    /// <param name="state">Passed to <paramref name="callback"/>.</param>
    /// <param name="dueTime">Delay before the first firing; <see cref="Timeout.InfiniteTimeSpan"/> for none.</param>
    /// <param name="period">Interval between later firings; zero or <see cref="Timeout.InfiniteTimeSpan"/> for none.</param>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>
    /// Moves the clock forward by <paramref name="delta"/>, firing, in time order, every timer
    /// that falls due on the way (periodic timers as many times as their period fits). Returns
    /// when the clock reads the old time plus <paramref name="delta"/> and no timer is due.
    /// </summary>
    /// <param name="delta">How far to move; zero fires only the timers already due.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is negative.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a timer callback.</exception>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        if (Volatile.Read(ref _advancingThread) == Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException("A timer callback cannot advance the clock that is firing it.");
        }

        lock (_advanceGate)
        {
            Volatile.Write(ref _advancingThread, Environment.CurrentManagedThreadId);
            try
            {
                long target;
                lock (_gate)
                {
                    target = checked(_now + delta.Ticks);
                }

                while (NextDue(target) is { } fire)
                {
                    fire.Callback(fire.State);
                }
            }
            finally
            {
                Volatile.Write(ref _advancingThread, 0);
            }
        }
    }

    /// <summary>Takes the next timer due by <paramref name="target"/>, or moves the clock to the target when none is.</summary>
    private (TimerCallback Callback, object? State)? NextDue(long target)
    {
        lock (_gate)
        {
            while (_queue.TryPeek(out var entry, out var key) && key.Due <= target)
            {
                _queue.Dequeue();
                var timer = entry.Timer;
                if (entry.Generation != timer.Generation)
                {
                    _staleEntries--; // changed or disposed since this entry was queued
                    continue;
                }

                _now = Math.Max(_now, key.Due);
                timer.Scheduled = false;
                _activeTimers--;
                if (timer.Period > 0)
                {
                    Schedule(timer, key.Due + timer.Period);
                }

                return (timer.Callback, timer.State);
            }

            _now = Math.Max(_now, target);
            return null;
        }
    }

    private bool Change(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        ValidateInterval(dueTime, nameof(dueTime));
        ValidateInterval(period, nameof(period));
        lock (_gate)
        {
            if (timer.Disposed)
            {
                return false;
            }

            timer.Period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                Unschedule(timer);
            }
            else
            {
                Schedule(timer, checked(_now + dueTime.Ticks));
            }

            return true;
        }
    }

    private void Dispose(ManualTimer timer)
    {
        lock (_gate)
        {
            Unschedule(timer);
            timer.Disposed = true;
        }
    }

    private void Schedule(ManualTimer timer, long due)
    {
        Unschedule(timer);
        timer.Scheduled = true;
        _activeTimers++;
        _queue.Enqueue(new ScheduledFire(timer, timer.Generation), (due, _sequence++));
    }

    /// <summary>
    /// Invalidates the timer's queued entry, if any. The entry stays in the queue, carrying an
    /// old generation, and is skipped when reached; when such entries outnumber the live ones
    /// (a timer pushed back on every frame, say) the queue is rebuilt without them.
    /// </summary>
    private void Unschedule(ManualTimer timer)
    {
        timer.Generation++;
        if (!timer.Scheduled)
        {
            return;
        }

        timer.Scheduled = false;
        _activeTimers--;
        if (++_staleEntries > 1024 && _staleEntries > _queue.Count / 2)
        {
            var live = _queue.UnorderedItems.Where(e => e.Element.Generation == e.Element.Timer.Generation).ToList();
            _queue.Clear();
            _queue.EnqueueRange(live);
            _staleEntries = 0;
        }
    }

    private static void ValidateInterval(TimeSpan value, string name)
    {
        if (value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be non-negative or Timeout.InfiniteTimeSpan.");
        }
    }

    private readonly record struct ScheduledFire(ManualTimer Timer, long Generation);

    /// <summary>A timer's state; every field is guarded by the provider's lock.</summary>
    /// <remarks><see cref="Scheduled"/> holds exactly when the queue has an entry with the current <see cref="Generation"/>.</remarks>
    private sealed class ManualTimer(ManualTimeProvider provider, TimerCallback callback, object? state) : ITimer
    {
        public TimerCallback Callback { get; } = callback;

        public object? State { get; } = state;

        public long Period { get; set; }

        public long Generation { get; set; }

        public bool Scheduled { get; set; }

        public bool Disposed { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period) => provider.Change(this, dueTime, period);

        public void Dispose() => provider.Dispose(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
