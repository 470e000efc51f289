using System.Collections.Concurrent;
using Router.Hosting;
using Router.Sdk;

namespace Router.Security.Links;

/// <summary>Where a link stands in the <see cref="LinkGuard"/>'s eyes.</summary>
internal enum LinkState
{
    Handshaking,
    Authenticated,
    Refused,
    Failed,
}

/// <summary>
/// Every link the netmods reported, by (netmod, neighbour), with its state and, once
/// authenticated, its <see cref="LinkSession"/>. The <see cref="LinkGuard"/> writes it; the
/// switch (opening control frames, refusing frames from unauthenticated links) and routing
/// (sealing control frames) read it without locks.
/// </summary>
internal sealed class LinkTable
{
    private readonly ConcurrentDictionary<(NetmodInstance, NeighbourId), Link> _links = new();
    private readonly LinkSecurityCounters _counters;
    private readonly TimeProvider _time;

    public LinkTable(LinkSecurityCounters counters, TimeProvider time)
    {
        _counters = counters;
        _time = time;
    }

    public ICollection<Link> All => _links.Values;

    public bool TryGetValue((NetmodInstance, NeighbourId) key, out Link link) => _links.TryGetValue(key, out link!);

    public bool TryRemove((NetmodInstance, NeighbourId) key, out Link link) => _links.TryRemove(key, out link!);

    public void Set((NetmodInstance, NeighbourId) key, Link link) => _links[key] = link;

    /// <summary>
    /// Enters a link as authenticated with the given keys, without a handshake: for cores
    /// assembled by hand in tests and benchmarks, whose netmods feed frames in directly.
    /// </summary>
    public LinkSession Authenticate(NetmodInstance netmod, NeighbourId id, RouterAddress address, LinkKeys keys)
    {
        var session = new LinkSession(keys);
        _links[(netmod, id)] = new Link(netmod, id, address, "(test)", 1_000_000) { Session = session, State = LinkState.Authenticated };
        return session;
    }

    /// <summary>The link's state as status shows it: handshaking, authenticated, refused or failed; null for an unknown link.</summary>
    public string? StateOf(NetmodInstance netmod, RouterAddress address)
    {
        foreach (var link in _links.Values)
        {
            if (link.Netmod == netmod && link.Address == address)
            {
                return link.State.ToString().ToLowerInvariant();
            }
        }

        return null;
    }

    /// <summary>Whether frames from this neighbour may be used: its link is authenticated. Lock-free.</summary>
    public bool IsAuthenticated(NetmodInstance netmod, NeighbourId from) =>
        _links.TryGetValue((netmod, from), out var link) && link.Session is not null;

    /// <summary>
    /// Checks a sealed control frame from a neighbour (switch loop of the neighbour's netmod);
    /// on success <paramref name="length"/> is the frame without its trailer. Counts failures.
    /// </summary>
    public bool TryOpenControl(NetmodInstance netmod, NeighbourId from, ReadOnlySpan<byte> frame, out int length)
    {
        length = 0;
        if (!_links.TryGetValue((netmod, from), out var link) || link.Session is not { } session)
        {
            _counters.CountUnauthenticated();
            return false;
        }

        if (!link.ControlBudget.TryTake(_time.GetTimestamp(), _time.TimestampFrequency))
        {
            _counters.CountControlRateLimited();
            return false;
        }

        var failure = session.TryOpen(frame, out length);
        if (failure != SealFailure.None)
        {
            _counters.CountSealFailure(failure);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Seals a control frame for a neighbour (routing loop). <paramref name="buffer"/> must have
    /// <see cref="LinkSession.TrailerSize"/> bytes to spare after <paramref name="length"/>.
    /// False when the link is not (or no longer) authenticated.
    /// </summary>
    public bool TrySeal(NetmodInstance netmod, NeighbourId to, Span<byte> buffer, int length, out int sealedLength)
    {
        sealedLength = 0;
        if (!_links.TryGetValue((netmod, to), out var link) || link.Session is not { } session)
        {
            return false;
        }

        sealedLength = session.Seal(buffer, length);
        return true;
    }
}

/// <summary>One link as the guard tracks it. Fields other than <see cref="Session"/> belong to the guard's loop.</summary>
internal sealed class Link(NetmodInstance netmod, NeighbourId id, RouterAddress address, string endpoint, int controlFramesPerSecond) : IDisposable
{
    private volatile LinkSession? _session;
    private volatile LinkState _state;

    public NetmodInstance Netmod { get; } = netmod;

    public NeighbourId Id { get; } = id;

    public RouterAddress Address { get; set; } = address;

    public string Endpoint { get; } = endpoint;

    public LinkState State { get => _state; set => _state = value; }

    public LinkHandshake? Handshake { get; set; }

    /// <summary>Set once authenticated; replaced when the neighbour handshakes again.</summary>
    public LinkSession? Session { get => _session; set => _session = value; }

    public TimeSpan Deadline { get; set; }

    public TimeSpan NextResend { get; set; }

    public int Retries { get; set; }

    /// <summary>Control frames: read only by the switch loop of this link's netmod.</summary>
    public TokenBucket ControlBudget { get; } = new(controlFramesPerSecond, burst: Math.Max(64, controlFramesPerSecond * 2));

    /// <summary>Handshake messages: read only by the guard's loop.</summary>
    public TokenBucket HandshakeBudget { get; } = new(5, burst: 10);

    public void Dispose() => Handshake?.Dispose();
}

/// <summary>
/// A token bucket: <c>rate</c> tokens per second up to <c>burst</c>. Not thread-safe: one
/// caller. Allocation-free.
/// </summary>
internal sealed class TokenBucket(int rate, int burst)
{
    private double _tokens = burst;
    private long _last;

    public bool TryTake(long timestamp, long frequency)
    {
        if (_last != 0)
        {
            _tokens = Math.Min(burst, _tokens + ((timestamp - _last) * (double)rate / frequency));
        }

        _last = timestamp;
        if (_tokens < 1)
        {
            return false;
        }

        _tokens--;
        return true;
    }
}
