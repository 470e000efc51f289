namespace Router.Sdk.Testing;

/// <summary>Waits for a condition by polling, for state that raises no event (counters, logs).</summary>
public static class Eventually
{
    /// <summary>How long <see cref="TrueAsync"/> waits when no timeout is given.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Completes once <paramref name="condition"/> holds, checking it every 20 ms on real time;
    /// throws <see cref="TimeoutException"/> naming <paramref name="what"/> when it does not
    /// hold within <paramref name="timeout"/>.
    /// </summary>
    /// <param name="condition">The condition; called on the caller's and pool threads, so it must be thread-safe.</param>
    /// <param name="what">What is awaited, for the exception message, e.g. <c>the link is up</c>.</param>
    /// <param name="timeout">How long to wait; <see cref="DefaultTimeout"/> when null.</param>
    public static async Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting until {what}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }
}
