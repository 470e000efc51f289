namespace Router.Sdk;

/// <summary>
/// Exponential backoff with full jitter, for reconnect loops: the n-th delay is drawn
/// uniformly from [<c>cap/2</c>, <c>cap</c>] where <c>cap = min(Max, Initial · 2ⁿ)</c>, so
/// peers that lost a link together do not all retry at the same instant, and waits never
/// exceed <see cref="Max"/>. Not thread-safe: one instance per loop.
/// </summary>
public sealed class Backoff
{
    private readonly Random _random;
    private int _attempt;

    /// <summary>Creates a backoff policy.</summary>
    /// <param name="initial">The first delay's upper bound; must be positive.</param>
    /// <param name="max">The cap on every delay; at least <paramref name="initial"/>.</param>
    /// <param name="random">Source of jitter; a shared random source when null.</param>
    public Backoff(TimeSpan initial, TimeSpan max, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(initial, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(max, initial);
        Initial = initial;
        Max = max;
        _random = random ?? Random.Shared;
    }

    /// <summary>Upper bound of the first delay.</summary>
    public TimeSpan Initial { get; }

    /// <summary>Upper bound of every delay.</summary>
    public TimeSpan Max { get; }

    /// <summary>Returns the next delay and advances the attempt count.</summary>
    public TimeSpan Next()
    {
        var exponent = Math.Min(_attempt++, 30);
        var cap = Math.Min(Max.Ticks, Initial.Ticks * (1L << exponent));
        if (cap < 0 || cap > Max.Ticks)
        {
            cap = Max.Ticks;
        }

        return TimeSpan.FromTicks((cap / 2) + (long)(_random.NextDouble() * (cap - (cap / 2))));
    }

    /// <summary>Starts again from the first delay, after a success.</summary>
    public void Reset() => _attempt = 0;
}
