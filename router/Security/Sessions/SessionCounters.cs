using Router.Sdk;

namespace Router.Security.Sessions;

/// <summary>Why a sealed message, a signed flood or a handshake message was dropped. Each has a counter.</summary>
internal enum SessionDrop
{
    /// <summary>A sealed message shorter than its 28 bytes of session id, counter and tag.</summary>
    Malformed,

    /// <summary>A sealed message for a session id this router does not have (expired, never made, or of another source).</summary>
    UnknownSession,

    /// <summary>A sealed message whose tag did not verify: altered on the way, or not sealed with the session's key.</summary>
    BadTag,

    /// <summary>A sealed message with a counter already opened, or too old for the replay window.</summary>
    Replayed,

    /// <summary>A flood whose signature trailer is missing, not the source's key, or does not verify.</summary>
    BadFloodSignature,

    /// <summary>A handshake message of the wrong length or version, or with an ephemeral key that is not a P-256 point.</summary>
    MalformedHandshake,

    /// <summary>A handshake message whose identity key does not hash to its source address.</summary>
    WrongIdentityKey,

    /// <summary>A handshake message whose signature does not verify.</summary>
    BadHandshakeSignature,

    /// <summary>An Init not newer than the last one accepted from its source (a replay, or a duplicate after its session went).</summary>
    ReplayedInit,

    /// <summary>An Init over the rate this router answers (<see cref="SessionOptions.InitsPerSecond"/>).</summary>
    InitRateLimited,

    /// <summary>An Accept that answers no key exchange this router is waiting on (late, duplicated or forged).</summary>
    UnexpectedAccept,
}

/// <summary>One live session, for <c>router status</c>.</summary>
/// <param name="Peer">The other router.</param>
/// <param name="LocalId">The id messages to this router carry on this session.</param>
/// <param name="Initiator">Whether this router started the key exchange.</param>
/// <param name="Current">Whether this router seals new messages to the peer with it.</param>
/// <param name="Confirmed">Whether the peer is known to hold the keys (always for the initiator; for the responder once a message arrived).</param>
/// <param name="Age">Time since the key exchange completed here.</param>
/// <param name="MessagesSent">Messages sealed with it.</param>
/// <param name="MessagesReceived">Messages opened with it.</param>
internal sealed record SessionInfo(RouterAddress Peer, uint LocalId, bool Initiator, bool Current, bool Confirmed, TimeSpan Age, long MessagesSent, long MessagesReceived);

/// <summary>
/// End-to-end session events, for status and metrics. Lock-free increments; registered in DI
/// so status can read them without reaching into <see cref="SessionService"/>.
/// </summary>
internal sealed class SessionCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<SessionDrop>().Length];
    private long _initiated;
    private long _completed;
    private long _accepted;
    private long _timedOut;
    private long _retransmits;
    private long _acceptsResent;
    private long _rekeys;
    private long _evicted;
    private long _expired;
    private long _noSession;
    private long _resets;
    private long _sealed;
    private long _opened;

    /// <summary>Key exchanges this router started (first sends, re-keys, recoveries).</summary>
    public long HandshakesInitiated => Interlocked.Read(ref _initiated);

    /// <summary>Key exchanges this router started that completed (the Accept verified).</summary>
    public long HandshakesCompleted => Interlocked.Read(ref _completed);

    /// <summary>Inits this router answered with an Accept (a new responder session each).</summary>
    public long HandshakesAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Key exchanges this router started that got no valid Accept within the handshake timeout.</summary>
    public long HandshakesTimedOut => Interlocked.Read(ref _timedOut);

    /// <summary>Inits sent again because no Accept came.</summary>
    public long InitRetransmits => Interlocked.Read(ref _retransmits);

    /// <summary>Accepts sent again because the same Init came again (the first Accept was lost).</summary>
    public long AcceptsResent => Interlocked.Read(ref _acceptsResent);

    /// <summary>Key exchanges started because a session reached its message or age limit.</summary>
    public long Rekeys => Interlocked.Read(ref _rekeys);

    /// <summary>Sessions dropped to stay within the per-peer, total or pending limits.</summary>
    public long SessionsEvicted => Interlocked.Read(ref _evicted);

    /// <summary>Sessions removed at the end of their lifetime or grace period.</summary>
    public long SessionsExpired => Interlocked.Read(ref _expired);

    /// <summary>Sends that failed because no session could be made in time.</summary>
    public long SendsWithoutSession => Interlocked.Read(ref _noSession);

    /// <summary>Sessions dropped because the peer said, in a signed Init, that it no longer has them (it restarted).</summary>
    public long SessionsResetByPeer => Interlocked.Read(ref _resets);

    /// <summary>Messages sealed.</summary>
    public long MessagesSealed => Interlocked.Read(ref _sealed);

    /// <summary>Messages opened and handed on for delivery.</summary>
    public long MessagesOpened => Interlocked.Read(ref _opened);

    /// <summary>Sealed messages with a session id this router does not have.</summary>
    public long UnknownSession => Drops(SessionDrop.UnknownSession);

    /// <summary>Sealed messages whose tag did not verify.</summary>
    public long BadTag => Drops(SessionDrop.BadTag);

    /// <summary>Sealed messages opened before (or older than the replay window).</summary>
    public long Replayed => Drops(SessionDrop.Replayed);

    /// <summary>Floods whose signature did not verify.</summary>
    public long BadFloodSignature => Drops(SessionDrop.BadFloodSignature);

    public long Drops(SessionDrop reason) => Interlocked.Read(ref _drops[(int)reason]);

    public void CountDrop(SessionDrop reason) => Interlocked.Increment(ref _drops[(int)reason]);

    public void CountInitiated() => Interlocked.Increment(ref _initiated);

    public void CountCompleted() => Interlocked.Increment(ref _completed);

    public void CountAccepted() => Interlocked.Increment(ref _accepted);

    public void CountTimedOut() => Interlocked.Increment(ref _timedOut);

    public void CountRetransmit() => Interlocked.Increment(ref _retransmits);

    public void CountAcceptResent() => Interlocked.Increment(ref _acceptsResent);

    public void CountRekey() => Interlocked.Increment(ref _rekeys);

    public void CountEvicted() => Interlocked.Increment(ref _evicted);

    public void CountExpired() => Interlocked.Increment(ref _expired);

    public void CountNoSession() => Interlocked.Increment(ref _noSession);

    public void CountReset() => Interlocked.Increment(ref _resets);

    public void CountSealed() => Interlocked.Increment(ref _sealed);

    public void CountOpened() => Interlocked.Increment(ref _opened);

    /// <summary>Every counter by name (camelCase), for status.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var snapshot = new Dictionary<string, long>
        {
            ["handshakesInitiated"] = HandshakesInitiated,
            ["handshakesCompleted"] = HandshakesCompleted,
            ["handshakesAccepted"] = HandshakesAccepted,
            ["handshakesTimedOut"] = HandshakesTimedOut,
            ["initRetransmits"] = InitRetransmits,
            ["acceptsResent"] = AcceptsResent,
            ["rekeys"] = Rekeys,
            ["sessionsEvicted"] = SessionsEvicted,
            ["sessionsExpired"] = SessionsExpired,
            ["sessionsResetByPeer"] = SessionsResetByPeer,
            ["sendsWithoutSession"] = SendsWithoutSession,
            ["messagesSealed"] = MessagesSealed,
            ["messagesOpened"] = MessagesOpened,
        };
        foreach (var reason in Enum.GetValues<SessionDrop>())
        {
            var name = reason.ToString();
            snapshot[char.ToLowerInvariant(name[0]) + name[1..]] = Drops(reason);
        }

        return snapshot;
    }
}
