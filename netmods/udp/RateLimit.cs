namespace Router.Netmods.Udp;

/// <summary>
/// A token bucket: at most <c>burst</c> events at once and <c>perSecond</c> on average. Bounds
/// the datagrams this router sends in answer to datagrams it did not ask for (strangers,
/// beacons), so it cannot be used to amplify a flood. Thread-safe; used off the frame path.
/// </summary>
internal sealed class RateLimit
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly double _burst;
    private double _tokens;
    private long _last;

    public RateLimit(TimeProvider time, double perSecond, double burst)
    {
        _time = time;
        _perSecond = perSecond;
        _burst = burst;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    /// <summary>Takes one token if there is one.</summary>
    public bool TryTake()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _perSecond));
            _last = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens--;
            return true;
        }
    }
}
