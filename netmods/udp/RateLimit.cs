using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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

/// <summary>
/// The IP address a datagram came from, without its port: the unit the per-source limits
/// count. IPv4 is held as its v4-mapped IPv6 form, so one host reaching an IPv4 socket and a
/// dual-stack socket is one source. Read straight from the receive thread's
/// <see cref="SocketAddress"/>, allocating nothing.
/// </summary>
internal readonly record struct SourceKey(ulong High, ulong Low)
{
    private const ulong V4MappedPrefix = 0x0000_FFFF_0000_0000UL;

    /// <summary>The source of <paramref name="address"/>; the zero key for a family that is neither IPv4 nor IPv6.</summary>
    public static SourceKey From(SocketAddress address)
    {
        // The native sockaddr layouts: sockaddr_in is family(2) port(2) address(4);
        // sockaddr_in6 is family(2) port(2) flowinfo(4) address(16) scope(4). The scope is left
        // out: the same link-local address on two interfaces is counted as one source, which
        // errs on the strict side.
        var bytes = address.Buffer.Span;
        if (address.Family == AddressFamily.InterNetwork && address.Size >= 8)
        {
            return new SourceKey(0, V4MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(bytes[4..8]));
        }

        if (address.Family == AddressFamily.InterNetworkV6 && address.Size >= 24)
        {
            return new SourceKey(BinaryPrimitives.ReadUInt64BigEndian(bytes[8..16]), BinaryPrimitives.ReadUInt64BigEndian(bytes[16..24]));
        }

        return default;
    }

    /// <summary>The address as people write it: dotted IPv4 for v4-mapped, else IPv6.</summary>
    public override string ToString()
    {
        if (High == 0 && (Low & 0xFFFF_FFFF_0000_0000UL) == V4MappedPrefix)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)Low);
            return new IPAddress(v4).ToString();
        }

        Span<byte> v6 = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(v6, High);
        BinaryPrimitives.WriteUInt64BigEndian(v6[8..], Low);
        return new IPAddress(v6).ToString();
    }
}

/// <summary>
/// One token bucket per source address (<see cref="SourceKey"/>): at most <c>burst</c> datagrams
/// at once and <c>perSecond</c> on average from each, so one host cannot fill the control loop's
/// queue or use up a shared budget that other hosts need. Thread-safe (one short lock per
/// datagram; used for control datagrams only, never on the frame path) and allocation-free
/// once the table has grown.
/// </summary>
/// <remarks>
/// The table holds at most <see cref="MaxSources"/> buckets. When it is full, buckets that have
/// refilled are dropped — a full bucket is the same as a new one — at most once per refill time,
/// so a table full of busy sources costs one pass per refill time rather than one per datagram.
/// Sources that still find no room share one extra bucket: a flood from more addresses than
/// the table holds (spoofed, or an IPv6 prefix) is held to one source's rate in total, at the
/// price of new honest sources waiting for their turn in that bucket until the table frees up.
/// </remarks>
internal sealed class SourceRateLimit
{
    /// <summary>The most sources tracked one by one.</summary>
    public const int MaxSources = 4096;

    private static readonly TimeSpan MinSweepInterval = TimeSpan.FromMilliseconds(100);

    private readonly Lock _lock = new();
    private readonly Dictionary<SourceKey, Bucket> _buckets = [];
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly double _burst;
    private readonly long _sweepInterval;
    private Bucket _shared;
    private long _nextSweep;

    public SourceRateLimit(TimeProvider time, double perSecond, double burst)
    {
        _time = time;
        _perSecond = perSecond;
        _burst = burst;
        var refill = TimeSpan.FromSeconds(Math.Max(burst / perSecond, MinSweepInterval.TotalSeconds));
        _sweepInterval = (long)(refill.TotalSeconds * time.TimestampFrequency);
        _shared = new Bucket(burst, time.GetTimestamp());
    }

    /// <summary>Sources tracked one by one now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>Takes one token from <paramref name="source"/>'s bucket if it has one.</summary>
    public bool TryTake(SourceKey source)
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            ref var bucket = ref CollectionsMarshal.GetValueRefOrNullRef(_buckets, source);
            if (Unsafe.IsNullRef(ref bucket))
            {
                if (_buckets.Count >= MaxSources && !Sweep(now))
                {
                    return Take(ref _shared, now);
                }

                bucket = ref CollectionsMarshal.GetValueRefOrAddDefault(_buckets, source, out _);
                bucket = new Bucket(_burst, now);
            }

            return Take(ref bucket, now);
        }
    }

    private bool Take(ref Bucket bucket, long now)
    {
        bucket.Tokens = Refilled(bucket, now);
        bucket.Last = now;
        if (bucket.Tokens < 1)
        {
            return false;
        }

        bucket.Tokens--;
        return true;
    }

    private double Refilled(in Bucket bucket, long now) =>
        Math.Min(_burst, bucket.Tokens + (_time.GetElapsedTime(bucket.Last, now).TotalSeconds * _perSecond));

    /// <summary>Drops every bucket that has refilled; true when that made room.</summary>
    private bool Sweep(long now)
    {
        if (now < _nextSweep)
        {
            return false;
        }

        _nextSweep = now + _sweepInterval;
        foreach (var (key, bucket) in _buckets)
        {
            if (Refilled(bucket, now) >= _burst)
            {
                // Removing while enumerating is allowed for Dictionary since .NET Core 3.0.
                _buckets.Remove(key);
            }
        }

        return _buckets.Count < MaxSources;
    }

    private record struct Bucket(double Tokens, long Last);
}
