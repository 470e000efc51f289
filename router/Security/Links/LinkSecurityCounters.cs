namespace Router.Security.Links;

/// <summary>Link security events, for status and metrics. Lock-free increments.</summary>
internal sealed class LinkSecurityCounters
{
    private readonly long[] _failures = new long[Enum.GetValues<HandshakeFailure>().Length];
    private long _completed;
    private long _renewed;
    private long _timedOut;
    private long _refused;
    private long _rateLimited;
    private long _badTag;
    private long _replayed;
    private long _unauthenticated;
    private long _controlRateLimited;

    /// <summary>Handshakes that authenticated a neighbour (including re-handshakes).</summary>
    public long HandshakesCompleted => Interlocked.Read(ref _completed);

    /// <summary>Authenticated links that handshook again because the neighbour started over (routing met it afresh).</summary>
    public long LinksRenewed => Interlocked.Read(ref _renewed);

    /// <summary>Handshakes abandoned after the timeout.</summary>
    public long HandshakesTimedOut => Interlocked.Read(ref _timedOut);

    /// <summary>Neighbours refused by the peer policy (allow-list).</summary>
    public long PeersRefused => Interlocked.Read(ref _refused);

    /// <summary>Handshake messages dropped because a link sent too many.</summary>
    public long HandshakesRateLimited => Interlocked.Read(ref _rateLimited);

    /// <summary>Control frames whose tag did not verify.</summary>
    public long ControlBadTag => Interlocked.Read(ref _badTag);

    /// <summary>Control frames with a counter already seen or too old.</summary>
    public long ControlReplayed => Interlocked.Read(ref _replayed);

    /// <summary>Control frames over a link's rate limit.</summary>
    public long ControlRateLimited => Interlocked.Read(ref _controlRateLimited);

    /// <summary>Frames from a neighbour that has not (yet) authenticated.</summary>
    public long Unauthenticated => Interlocked.Read(ref _unauthenticated);

    public long Failures(HandshakeFailure reason) => Interlocked.Read(ref _failures[(int)reason]);

    public void CountCompleted() => Interlocked.Increment(ref _completed);

    public void CountRenewed() => Interlocked.Increment(ref _renewed);

    public void CountTimedOut() => Interlocked.Increment(ref _timedOut);

    public void CountRefused() => Interlocked.Increment(ref _refused);

    public void CountRateLimited() => Interlocked.Increment(ref _rateLimited);

    public void CountFailure(HandshakeFailure reason) => Interlocked.Increment(ref _failures[(int)reason]);

    public void CountUnauthenticated() => Interlocked.Increment(ref _unauthenticated);

    public void CountControlRateLimited() => Interlocked.Increment(ref _controlRateLimited);

    public void CountSealFailure(SealFailure failure)
    {
        if (failure == SealFailure.Replayed)
        {
            Interlocked.Increment(ref _replayed);
        }
        else
        {
            Interlocked.Increment(ref _badTag);
        }
    }

    /// <summary>Every counter by name (camelCase), for status.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var snapshot = new Dictionary<string, long>
        {
            ["handshakesCompleted"] = HandshakesCompleted,
            ["linksRenewed"] = LinksRenewed,
            ["handshakesTimedOut"] = HandshakesTimedOut,
            ["handshakesRateLimited"] = HandshakesRateLimited,
            ["peersRefused"] = PeersRefused,
            ["controlBadTag"] = ControlBadTag,
            ["controlReplayed"] = ControlReplayed,
            ["controlRateLimited"] = ControlRateLimited,
            ["unauthenticatedFrames"] = Unauthenticated,
        };
        foreach (var reason in Enum.GetValues<HandshakeFailure>().Where(r => r != HandshakeFailure.None))
        {
            var name = reason.ToString();
            snapshot["handshake" + name] = Failures(reason);
        }

        return snapshot;
    }
}
