namespace Router.Sdk.Testing;

/// <summary>
/// How one direction of a simulated link behaves: how long a frame takes to cross it, how
/// often one is lost, how fast the sender can put frames on it and how many can wait to be
/// sent. Immutable; the defaults make a perfect link (no delay, no loss, unlimited bandwidth).
/// </summary>
/// <remarks>
/// A frame of <c>n</c> bytes sent at time <c>t</c> starts transmission when the frames queued
/// before it in the same direction have finished, takes <c>n·8 / BandwidthBitsPerSecond</c>
/// seconds to transmit, and arrives <see cref="Latency"/> later. Frames are never reordered
/// or duplicated.
/// </remarks>
public sealed record LinkProperties
{
    /// <summary>One-way propagation delay added to every frame. Zero or more; default zero.</summary>
    public TimeSpan Latency
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
            field = value;
        }
    }

    /// <summary>
    /// Probability, from 0 to 1, that a frame is lost in transit, drawn independently per frame
    /// from the network's seeded random source. Lost frames still use the link's bandwidth.
    /// Default zero; 1 makes the link silently drop everything.
    /// </summary>
    public double Loss
    {
        get;
        init
        {
            if (!(value is >= 0 and <= 1))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Loss is a probability from 0 to 1.");
            }

            field = value;
        }
    }

    /// <summary>Transmission rate in bits per second; zero (the default) means unlimited, so frames never queue.</summary>
    public long BandwidthBitsPerSecond
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            field = value;
        }
    }

    /// <summary>
    /// How many frames may be waiting at the sender or being transmitted, at least 1; default
    /// 1000. A send that finds the queue full returns <see cref="SendResult.QueueFull"/> and is
    /// counted in <see cref="LinkCounters.QueueFull"/>. Matters only with a bandwidth limit.
    /// </summary>
    public int QueueFrames
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            field = value;
        }
    } = 1000;
}
