using System.Numerics;

namespace Router.Routing;

/// <summary>
/// What the hellos from one neighbour say about the link: which of the last 16 expected
/// hellos arrived (loss), and the round-trip time. Turns both into a link cost:
/// <c>(HopCost + RTT in 100 µs units) × expected / received</c>, infinite after
/// <see cref="RoutingOptions.MissedHellosForLoss"/> misses in a row or under 25 % delivery.
/// The cost takes the smallest RTT of the last <see cref="RttWindow"/> samples: load (busy
/// CPUs, full queues) only ever adds delay, so the minimum is the path's own RTT, and a busy
/// moment does not move routes; a path that really got slower shows once the window has
/// passed. <see cref="Rtt"/>, the smoothed RTT, is what status shows.
/// </summary>
internal sealed class LinkQuality
{
    private const int Window = 16;

    /// <summary>RTT samples the cost takes the minimum of: one per hello that echoes ours.</summary>
    public const int RttWindow = 8;

    private ushort _expected;
    private uint _history; // bit 0 = most recent expected hello; 1 = received
    private int _known;    // how many bits of _history are meaningful
    private TimeSpan _interval;
    private TimeSpan _missDeadline = TimeSpan.MaxValue;
    private double _srttMicros = -1;
    private readonly uint[] _rttSamples = new uint[RttWindow];
    private int _rttCount;
    private int _rttNext;

    /// <summary>The neighbour's last hello timestamp, echoed back in ours.</summary>
    public uint LastTimestamp { get; private set; }

    /// <summary>When we received <see cref="LastTimestamp"/>.</summary>
    public TimeSpan LastTimestampAt { get; private set; }

    public bool HasHeard => _known > 0;

    /// <summary>Smoothed round-trip time, or null before the first measurement.</summary>
    public TimeSpan? Rtt => _srttMicros < 0 ? null : TimeSpan.FromTicks((long)(_srttMicros * 10));

    /// <summary>The smallest of the last <see cref="RttWindow"/> RTT samples (what the cost uses), or null before the first.</summary>
    public TimeSpan? MinRtt => _rttCount == 0 ? null : TimeSpan.FromTicks(MinRttMicros() * 10L);

    public int ConsecutiveMisses => _known == 0 ? 0 : Math.Min(_known, BitOperations.TrailingZeroCount(_history | (1u << Window)));

    /// <summary>
    /// Records a hello. Returns true when it is the first heard from this neighbour, or the first
    /// after the neighbour restarted: the neighbour may have missed what we sent before.
    /// </summary>
    public bool OnHello(in Hello hello, TimeSpan now, uint nowMicros)
    {
        var fresh = _known == 0;
        if (_known == 0)
        {
            Shift(true);
        }
        else
        {
            var gap = (short)(ushort)(hello.Seqno - _expected);
            if (gap is < 0 and > -Window)
            {
                // Older than expected: either a duplicate, or a late hello that the miss timer
                // already counted as lost (the timer advances the expected seqno). Count a late
                // one as received; ignore a duplicate. Either way the expected seqno stays, so
                // timer drift can never make a live neighbour's hellos look old for ever.
                var bit = 1u << (-gap - 1);
                if ((_history & bit) != 0 || -gap > _known)
                {
                    return false;
                }

                _history |= bit;
                Heard(hello, now, nowMicros);
                return false;
            }

            if (gap is >= Window or <= -Window)
            {
                // Far from what we expected: the neighbour restarted (its counter starts
                // afresh) or we missed a lot. Start over rather than ignore it.
                _history = 0;
                _known = 0;
                fresh = true;
            }
            else
            {
                for (var i = 0; i < gap; i++)
                {
                    Shift(false);
                }
            }

            Shift(true);
        }

        _expected = (ushort)(hello.Seqno + 1);
        Heard(hello, now, nowMicros);
        return fresh;
    }

    /// <summary>What every hello that counts tells us: the interval, the echo for RTT, when to expect the next.</summary>
    private void Heard(in Hello hello, TimeSpan now, uint nowMicros)
    {
        _interval = TimeSpan.FromMilliseconds(hello.IntervalCentiseconds * 10.0);
        _missDeadline = now + (_interval * 1.5);
        LastTimestamp = hello.Timestamp;
        LastTimestampAt = now;

        if (hello.EchoTimestamp != 0)
        {
            var rtt = unchecked(nowMicros - hello.EchoTimestamp - hello.EchoDelay);
            if (rtt < 10_000_000)
            {
                _srttMicros = _srttMicros < 0 ? rtt : (0.8 * _srttMicros) + (0.2 * rtt);
                _rttSamples[_rttNext] = rtt;
                _rttNext = (_rttNext + 1) % RttWindow;
                _rttCount = Math.Min(_rttCount + 1, RttWindow);
            }
        }
    }

    /// <summary>Counts hellos that should have arrived by <paramref name="now"/> as lost.</summary>
    public void CheckMisses(TimeSpan now)
    {
        while (now >= _missDeadline)
        {
            Shift(false);
            _expected++;
            _missDeadline += _interval;
        }
    }

    /// <summary>When the next hello is overdue (for scheduling <see cref="CheckMisses"/>).</summary>
    public TimeSpan MissDeadline => _missDeadline;

    public ushort Cost(RoutingOptions options)
    {
        if (_known == 0 || ConsecutiveMisses >= options.MissedHellosForLoss)
        {
            return Metric.Infinity;
        }

        var received = BitOperations.PopCount(_history & Mask);
        var known = Math.Min(_known, Window);
        if (received * 4 < known)
        {
            return Metric.Infinity;
        }

        // Until the first RTT sample, assume 1 ms.
        var rttUnits = _rttCount == 0 ? 10 : MinRttMicros() / 100.0;
        var cost = (options.HopCost + rttUnits) * known / received;
        return cost >= Metric.Infinity - 1 ? (ushort)(Metric.Infinity - 1) : (ushort)Math.Max(1, Math.Round(cost));
    }

    private const uint Mask = (1u << Window) - 1;

    private uint MinRttMicros()
    {
        var min = uint.MaxValue;
        for (var i = 0; i < _rttCount; i++)
        {
            min = Math.Min(min, _rttSamples[i]);
        }

        return min;
    }

    private void Shift(bool received)
    {
        _history = ((_history << 1) | (received ? 1u : 0u)) & Mask;
        _known = Math.Min(_known + 1, Window);
    }
}
