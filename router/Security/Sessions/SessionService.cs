using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Router.Identity;
using Router.Sdk;
using Router.Switching;

namespace Router.Security.Sessions;

/// <summary>Sends one handshake frame (Init or Accept) towards a router; the router core wires it to <see cref="MessageSender.SendFrameAsync"/>.</summary>
internal delegate ValueTask<OriginateResult> HandshakeTransport(FrameKind kind, RouterAddress destination, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

/// <summary>
/// End-to-end sessions between this router and the routers it exchanges messages with: the key
/// exchange (<see cref="HandshakeMessages"/>, <see cref="KeySchedule"/>), the table of live
/// sessions, and sealing and opening (<see cref="SealedMessage"/>). docs/security.md,
/// "End-to-end sessions", explains the protocol.
/// <para>
/// Paths and locks:
/// <list type="bullet">
/// <item>Sealing (<see cref="GetSendSessionAsync"/> then <see cref="TrySeal"/>) and opening
///   (<see cref="TryOpen"/>) read the session tables without a lock (concurrent dictionaries)
///   and take only the session's lock for that direction; with a session in place they
///   allocate nothing but the opened message.</item>
/// <item>Everything that changes the tables — a key exchange starting, finishing, timing out,
///   a session confirmed, replaced, evicted or expired — happens under one lock,
///   <c>_gate</c>. Code holding a session's lock never takes <c>_gate</c>; code holding
///   <c>_gate</c> may take a session's lock (to dispose it). Handshake frames are sent
///   outside <c>_gate</c>.</item>
/// <item>Inits and Accepts are handled on the switch loop of the netmod they arrived on;
///   answering an Init costs about 0.3 ms of CPU, so Inits are rate-limited.</item>
/// </list>
/// </para>
/// </summary>
internal sealed partial class SessionService : IDisposable
{
    /// <summary>The most a message grows on the wire: a flood's signature trailer (a sealed message grows by 28).</summary>
    public const int MaxWireOverhead = FloodSignature.Overhead > SealedMessage.Overhead ? FloodSignature.Overhead : SealedMessage.Overhead;

    private static readonly TimeSpan AcceptResendInterval = TimeSpan.FromMilliseconds(250);

    private readonly RouterIdentity _identity;
    private readonly SessionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HandshakeTransport _transport;
    private readonly Lock _gate = new();
    private readonly Dictionary<RouterAddress, PeerSessions> _peers = [];
    private readonly ConcurrentDictionary<uint, Session> _byId = new();
    private readonly ConcurrentDictionary<RouterAddress, Session> _current = new();
    private readonly HashSet<uint> _reservedIds = [];
    private readonly LinkedList<Session> _unconfirmed = new();
    private readonly InitTimestamps _initTimestamps;
    private readonly TokenBucket _initBudget;
    private readonly TokenBucket _resetBudget;
    private readonly ITimer _sweeper;
    private readonly CancellationTokenSource _stopping = new();
    private int _sessionCount;
    private int _pendingCount;
    private ulong _lastTimestamp;
    private bool _disposed;

    public SessionService(RouterIdentity identity, SessionOptions options, SessionCounters counters, TimeProvider time, ILogger<SessionService> logger, HandshakeTransport transport)
    {
        _identity = identity;
        _options = options;
        _time = time;
        _logger = logger;
        _transport = transport;
        Counters = counters;
        _initTimestamps = new InitTimestamps(options.RememberedInitiators);
        _initBudget = new TokenBucket(options.InitsPerSecond, time);
        _resetBudget = new TokenBucket(options.ResetsPerSecond, time);
        var period = TimeSpan.FromTicks(Math.Clamp(options.ReceiveGrace.Ticks / 4, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
    }

    public RouterAddress Address => _identity.Address;

    public SessionCounters Counters { get; }

    public SessionOptions Options => _options;

    /// <summary>Live sessions.</summary>
    public int Count => Volatile.Read(ref _sessionCount);

    /// <summary>Key exchanges this router started that have not finished.</summary>
    public int PendingHandshakes => Volatile.Read(ref _pendingCount);

    /// <summary>Responder sessions no message has arrived on yet.</summary>
    public int Unconfirmed
    {
        get
        {
            lock (_gate)
            {
                return _unconfirmed.Count;
            }
        }
    }

    /// <summary>Live sessions with <paramref name="peer"/>.</summary>
    public int SessionsWith(RouterAddress peer)
    {
        lock (_gate)
        {
            return _peers.TryGetValue(peer, out var state) ? state.Sessions.Count : 0;
        }
    }

    /// <summary>
    /// The session to seal the next message to <paramref name="peer"/> with. Synchronous with
    /// no allocation while the current session is good; starts a re-key in the background when
    /// it reaches its message or age limit; otherwise starts (or joins) a key exchange and waits
    /// for it, at most <see cref="SessionOptions.HandshakeTimeout"/>. Null when none could be made.
    /// </summary>
    public ValueTask<Session?> GetSendSessionAsync(RouterAddress peer, CancellationToken cancellationToken)
    {
        if (_current.TryGetValue(peer, out var session))
        {
            switch (GetSendState(session, _time.GetTimestamp()))
            {
                case SendState.Usable:
                    return new ValueTask<Session?>(session);
                case SendState.RekeyDue:
                    if (session.TryStartRekey())
                    {
                        Counters.CountRekey();
                        StartHandshake(peer, lostId: 0, unlessUsable: false, out _);
                    }

                    return new ValueTask<Session?>(session);
            }
        }

        return WaitForSessionAsync(peer, cancellationToken);
    }

    /// <summary>
    /// Seals a message from this router with <paramref name="session"/> into
    /// <paramref name="output"/> (exactly <see cref="SealedMessage.Overhead"/> bytes longer than
    /// <paramref name="plaintext"/>). False when the session reached its limit or went away in
    /// the meantime; ask <see cref="GetSendSessionAsync"/> again.
    /// </summary>
    /// <remarks><paramref name="plaintext"/> may be the very bytes of <paramref name="output"/> after its
    /// first <see cref="SealedMessage.HeaderLength"/> (sealing in place); no other overlap is allowed.</remarks>
    public bool TrySeal(Session session, uint messageId, ReadOnlySpan<byte> plaintext, Span<byte> output, FrameKind kind = FrameKind.Message)
    {
        if (!session.TrySeal(kind, _identity.Address, messageId, plaintext, output, _time.GetTimestamp()))
        {
            return false;
        }

        Counters.CountSealed();
        return true;
    }

    /// <summary>Writes the signature trailer of a flood from this router (<see cref="FloodSignature"/>).</summary>
    public void SignFlood(uint messageId, ReadOnlySpan<byte> payload, Span<byte> trailer) =>
        FloodSignature.Sign(_identity, messageId, payload, trailer);

    /// <summary>Checks a reassembled flood's signature; failures are counted.</summary>
    public bool TryVerifyFlood(in FrameHeader header, ReadOnlySpan<byte> message, out int payloadLength)
    {
        if (FloodSignature.TryVerify(header.Source, header.MessageId, message, out payloadLength))
        {
            return true;
        }

        Counters.CountDrop(SessionDrop.BadFloodSignature);
        return false;
    }

    /// <summary>Opens a reassembled sealed message into a new array (see the overload that opens into a span).</summary>
    /// <remarks>A message that is refused (unknown session, replayed, bad tag) allocates nothing: it is opened into a pooled buffer first.</remarks>
    public OpenResult TryOpen(in FrameHeader header, ReadOnlySpan<byte> sealedMessage, out byte[]? plaintext)
    {
        plaintext = null;
        var length = Math.Max(0, sealedMessage.Length - SealedMessage.Overhead);
        var opened = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            var result = TryOpen(header, sealedMessage, opened);
            if (result == OpenResult.Opened)
            {
                plaintext = opened.AsSpan(0, length).ToArray();
            }

            return result;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(opened, clearArray: true);
        }
    }

    /// <summary>
    /// Opens a reassembled sealed message addressed to this router into <paramref name="plaintext"/>
    /// (<see cref="SealedMessage.Overhead"/> bytes shorter than the message). The result other than
    /// <see cref="OpenResult.Opened"/> is counted; nothing is allocated. A message for a session this router does not have, from a router it has no
    /// current session with, makes this router start a key exchange that tells the sender to
    /// drop that session (it restarted, or the session expired here).
    /// </summary>
    public OpenResult TryOpen(in FrameHeader header, ReadOnlySpan<byte> sealedMessage, Span<byte> plaintext)
    {
        if (sealedMessage.Length < SealedMessage.Overhead)
        {
            Counters.CountDrop(SessionDrop.Malformed);
            return OpenResult.Malformed;
        }

        var id = SealedMessage.ReceiverId(sealedMessage);
        var now = _time.GetTimestamp();
        if (!_byId.TryGetValue(id, out var session) || session.Peer != header.Source || !CanReceive(session, now))
        {
            Counters.CountDrop(SessionDrop.UnknownSession);
            if (header.Source != Address && !_current.ContainsKey(header.Source))
            {
                StartHandshake(header.Source, lostId: id, unlessUsable: true, out _, reset: true);
            }

            return OpenResult.UnknownSession;
        }

        Span<byte> aad = stackalloc byte[SealedMessage.AssociatedDataLength];
        SealedMessage.WriteAssociatedData(aad, header.Kind, header.Destination, header.Source, header.MessageId, header.MessageLength);
        var result = session.TryOpen(sealedMessage, aad, now, plaintext[..(sealedMessage.Length - SealedMessage.Overhead)]);
        switch (result)
        {
            case OpenResult.Opened:
                Counters.CountOpened();
                if (!session.Confirmed)
                {
                    Confirm(session, now);
                }

                break;
            case OpenResult.BadTag:
                Counters.CountDrop(SessionDrop.BadTag);
                break;
            case OpenResult.Replayed:
                Counters.CountDrop(SessionDrop.Replayed);
                break;
            default:
                Counters.CountDrop(SessionDrop.UnknownSession);
                break;
        }

        return result;
    }

    /// <summary>Handles an Init or Accept addressed to this router; an Init that is answered sends the Accept.</summary>
    public ValueTask ReceiveHandshakeAsync(in FrameHeader header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (header.Kind == FrameKind.SessionAccept)
        {
            OnAccept(header.Source, payload.Span);
            return ValueTask.CompletedTask;
        }

        var accept = OnInit(header.Source, payload.Span);
        return accept is null ? ValueTask.CompletedTask : SendAcceptAsync(header.Source, accept, cancellationToken);
    }

    /// <summary>The live sessions, for status.</summary>
    public IReadOnlyList<SessionInfo> Snapshot()
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            return _byId.Values
                .OrderBy(s => s.Peer)
                .ThenBy(s => s.Created)
                .Select(s => new SessionInfo(
                    s.Peer,
                    s.LocalId,
                    s.IsInitiator,
                    _current.TryGetValue(s.Peer, out var current) && current == s,
                    s.Confirmed,
                    _time.GetElapsedTime(s.Created, now),
                    s.MessagesSent,
                    s.MessagesReceived))
                .ToList();
        }
    }

    public void Dispose()
    {
        List<PendingHandshake> failed = [];
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var peer in _peers.Values)
            {
                if (peer.Pending is { } pending)
                {
                    failed.Add(pending);
                }

                foreach (var session in peer.Sessions)
                {
                    session.Dispose();
                }
            }

            _peers.Clear();
            _byId.Clear();
            _current.Clear();
            _unconfirmed.Clear();
            _sessionCount = 0;
            _pendingCount = 0;
        }

        _stopping.Cancel();
        _sweeper.Dispose();
        foreach (var pending in failed)
        {
            pending.Dispose();
            pending.Completion.TrySetResult(null);
        }

        _stopping.Dispose();
    }

    private async ValueTask<Session?> WaitForSessionAsync(RouterAddress peer, CancellationToken cancellationToken)
    {
        var pending = StartHandshake(peer, lostId: 0, unlessUsable: true, out var usable);
        if (usable is not null)
        {
            return usable;
        }

        var session = pending is null ? null : await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (session is null)
        {
            Counters.CountNoSession();
        }

        return session;
    }

    /// <summary>
    /// Starts a key exchange with <paramref name="peer"/> unless one is under way, and returns
    /// the one under way. With <paramref name="unlessUsable"/>, a current session that may still
    /// seal is returned in <paramref name="usable"/> instead, and a spent one is retired. Null
    /// when the limit of pending exchanges is reached. A <paramref name="reset"/> (telling a
    /// sender its session is gone) is started only within its own rate and half the pending
    /// limit: anyone can send a message for an unknown session under any source address, and
    /// that must not crowd out the exchanges this router needs for its own messages.
    /// </summary>
    private PendingHandshake? StartHandshake(RouterAddress peer, uint lostId, bool unlessUsable, out Session? usable, bool reset = false)
    {
        usable = null;
        PendingHandshake? started = null;
        PendingHandshake? result;
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            var now = _time.GetTimestamp();
            if (unlessUsable && _current.TryGetValue(peer, out var current))
            {
                if (GetSendState(current, now) != SendState.Expired)
                {
                    usable = current;
                    return null;
                }

                // Spent for sending; it still opens what was sealed with it until its grace ends.
                current.Supersede(now);
                _current.TryRemove(KeyValuePair.Create(peer, current));
            }

            if (reset && ((_peers.TryGetValue(peer, out var known) && known.Pending is not null)
                || _pendingCount >= _options.MaxPendingHandshakes / 2 || !_resetBudget.TryTake(now)))
            {
                return null;
            }

            var state = GetOrAddPeerLocked(peer);
            if (state.Pending is { } existing)
            {
                result = existing;
            }
            else if (_pendingCount >= _options.MaxPendingHandshakes)
            {
                RemovePeerIfEmptyLocked(state);
                result = null;
            }
            else
            {
                started = result = CreatePendingLocked(state, lostId, now);
            }
        }

        if (started is not null)
        {
            Counters.CountInitiated();
            _ = SendInitAsync(started);
        }

        return result;
    }

    private PendingHandshake CreatePendingLocked(PeerSessions state, uint lostId, long now)
    {
        var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var id = NewIdLocked();
        var init = new byte[HandshakeMessages.InitLength];
        HandshakeMessages.WriteInit(init, _identity, state.Peer, id, lostId, NextTimestampLocked(), HandshakeMessages.ExportEphemeralKey(ephemeral));
        var pending = new PendingHandshake(state.Peer, id, ephemeral, init, now);
        var period = Min(_options.RetransmitInterval, _options.HandshakeTimeout);
        pending.Timer = _time.CreateTimer(OnPendingTick, pending, period, period);
        state.Pending = pending;
        _reservedIds.Add(id);
        _pendingCount++;
        return pending;
    }

    private void OnPendingTick(object? state)
    {
        var pending = (PendingHandshake)state!;
        var failed = false;
        lock (_gate)
        {
            if (!_peers.TryGetValue(pending.Peer, out var peer) || peer.Pending != pending)
            {
                return;
            }

            var remaining = _options.HandshakeTimeout - _time.GetElapsedTime(pending.Started);
            if (remaining <= TimeSpan.Zero)
            {
                peer.Pending = null;
                _pendingCount--;
                _reservedIds.Remove(pending.InitiatorId);
                if (_current.TryGetValue(pending.Peer, out var current))
                {
                    current.RekeyFailed();
                }

                RemovePeerIfEmptyLocked(peer);
                failed = true;
            }
            else
            {
                var period = Min(_options.RetransmitInterval, _options.HandshakeTimeout);
                pending.Timer?.Change(Min(period, remaining), period);
            }
        }

        if (failed)
        {
            pending.Dispose();
            Counters.CountTimedOut();
            Log.HandshakeTimedOut(_logger, pending.Peer.ToShortString(), _options.HandshakeTimeout.TotalSeconds);
            pending.Completion.TrySetResult(null);
            return;
        }

        Counters.CountRetransmit();
        _ = SendInitAsync(pending);
    }

    private async Task SendInitAsync(PendingHandshake pending)
    {
        try
        {
            var result = await _transport(FrameKind.SessionInit, pending.Peer, pending.Init, _stopping.Token).ConfigureAwait(false);
            if (result != OriginateResult.Sent)
            {
                Log.InitNotSent(_logger, pending.Peer.ToShortString(), result);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The router is stopping.
        }
        catch (Exception e)
        {
            // Nobody awaits this send; a netmod that throws must not become an unobserved task exception.
            Log.InitFailed(_logger, pending.Peer.ToShortString(), e);
        }
    }

    private async ValueTask SendAcceptAsync(RouterAddress initiator, byte[] accept, CancellationToken cancellationToken) =>
        await _transport(FrameKind.SessionAccept, initiator, accept, cancellationToken).ConfigureAwait(false);

    /// <summary>Answers an Init: returns the Accept to send, or null when the Init is dropped (counted).</summary>
    private byte[]? OnInit(RouterAddress initiator, ReadOnlySpan<byte> init)
    {
        if (!HandshakeMessages.IsInit(init) || HandshakeMessages.InitiatorId(init) == 0)
        {
            Counters.CountDrop(SessionDrop.MalformedHandshake);
            return null;
        }

        if (initiator == Address || !PublicKeys.BelongsTo(HandshakeMessages.InitIdentityKey(init), initiator))
        {
            Counters.CountDrop(SessionDrop.WrongIdentityKey);
            return null;
        }

        var initiatorId = HandshakeMessages.InitiatorId(init);
        var timestamp = HandshakeMessages.Timestamp(init);
        var now = _time.GetTimestamp();
        uint responderId;
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            // The same Init again: the Accept was lost. Send it again, not a new session.
            if (_peers.TryGetValue(initiator, out var peer))
            {
                foreach (var existing in peer.Sessions)
                {
                    if (!existing.IsInitiator && existing.RemoteId == initiatorId && existing.Accept is { } cached
                        && HandshakeMessages.InitEphemeralKey(init).SequenceEqual(existing.InitiatorEphemeralKey))
                    {
                        if (_time.GetElapsedTime(existing.AcceptSentAt, now) < AcceptResendInterval)
                        {
                            // Faster than the initiator retransmits: a replay, not worth an answer.
                            Counters.CountDrop(SessionDrop.ReplayedInit);
                            return null;
                        }

                        existing.AcceptSentAt = now;
                        Counters.CountAcceptResent();
                        return cached;
                    }
                }
            }

            // Checked before the signature, so a replay costs no public-key operation; a forged
            // Init cannot raise the bar because the timestamp is recorded only once it verified.
            if (timestamp <= _initTimestamps.Latest(initiator))
            {
                Counters.CountDrop(SessionDrop.ReplayedInit);
                return null;
            }

            if (!_initBudget.TryTake(now))
            {
                Counters.CountDrop(SessionDrop.InitRateLimited);
                return null;
            }

            responderId = NewIdLocked();
            _reservedIds.Add(responderId);
        }

        Session? session = null;
        byte[] accept;
        try
        {
            if (!HandshakeMessages.VerifyInit(init, initiator, Address))
            {
                Counters.CountDrop(SessionDrop.BadHandshakeSignature);
                return null;
            }

            if (!HandshakeMessages.TryImportEphemeralKey(HandshakeMessages.InitEphemeralKey(init), out var initiatorKey))
            {
                Counters.CountDrop(SessionDrop.MalformedHandshake);
                return null;
            }

            using (initiatorKey)
            using (var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256))
            {
                accept = new byte[HandshakeMessages.AcceptLength];
                HandshakeMessages.WriteAccept(accept, _identity, initiator, init, responderId, HandshakeMessages.ExportEphemeralKey(ephemeral));
                byte[] shared;
                try
                {
                    shared = ephemeral.DeriveRawSecretAgreement(initiatorKey!.PublicKey);
                }
                catch (CryptographicException)
                {
                    Counters.CountDrop(SessionDrop.MalformedHandshake);
                    return null;
                }

                session = NewSession(initiator, isInitiator: false, responderId, initiatorId, shared, init, accept, initiator, Address, now);
            }

            session.Accept = accept;
            session.InitiatorEphemeralKey = HandshakeMessages.InitEphemeralKey(init).ToArray();
            session.AcceptSentAt = now;
        }
        finally
        {
            if (session is null)
            {
                lock (_gate)
                {
                    _reservedIds.Remove(responderId);
                }
            }
        }

        lock (_gate)
        {
            _reservedIds.Remove(responderId);

            // Another copy of this Init (say, over a second path) got here first.
            if (_disposed || timestamp <= _initTimestamps.Latest(initiator))
            {
                session.Dispose();
                Counters.CountDrop(SessionDrop.ReplayedInit);
                return null;
            }

            _initTimestamps.Set(initiator, timestamp);
            AddSessionLocked(session);
            var lostId = HandshakeMessages.LostId(init);
            if (lostId != 0)
            {
                ResetLocked(initiator, lostId, keep: session);
            }
        }

        Counters.CountAccepted();
        Log.Accepted(_logger, initiator.ToShortString(), responderId);
        return accept;
    }

    /// <summary>Finishes a key exchange this router started; Accepts that do not verify are dropped (counted) and the exchange goes on.</summary>
    private void OnAccept(RouterAddress responder, ReadOnlySpan<byte> accept)
    {
        if (!HandshakeMessages.IsAccept(accept) || HandshakeMessages.ResponderId(accept) == 0)
        {
            Counters.CountDrop(SessionDrop.MalformedHandshake);
            return;
        }

        PendingHandshake? pending;
        lock (_gate)
        {
            pending = _peers.TryGetValue(responder, out var peer) ? peer.Pending : null;
        }

        if (pending is null || pending.InitiatorId != HandshakeMessages.InitiatorId(accept))
        {
            Counters.CountDrop(SessionDrop.UnexpectedAccept);
            return;
        }

        if (!PublicKeys.BelongsTo(HandshakeMessages.AcceptIdentityKey(accept), responder))
        {
            Counters.CountDrop(SessionDrop.WrongIdentityKey);
            return;
        }

        if (!HandshakeMessages.VerifyAccept(accept, pending.Init, Address, responder))
        {
            Counters.CountDrop(SessionDrop.BadHandshakeSignature);
            return;
        }

        if (!HandshakeMessages.TryImportEphemeralKey(HandshakeMessages.AcceptEphemeralKey(accept), out var responderKey))
        {
            Counters.CountDrop(SessionDrop.MalformedHandshake);
            return;
        }

        Session session;
        using (responderKey)
        {
            lock (_gate)
            {
                // The exchange may have timed out (and its ephemeral key gone) while this was checked.
                if (!_peers.TryGetValue(responder, out var peer) || peer.Pending != pending)
                {
                    Counters.CountDrop(SessionDrop.UnexpectedAccept);
                    return;
                }

                var now = _time.GetTimestamp();
                byte[] shared;
                try
                {
                    shared = pending.Ephemeral.DeriveRawSecretAgreement(responderKey!.PublicKey);
                }
                catch (CryptographicException)
                {
                    Counters.CountDrop(SessionDrop.MalformedHandshake);
                    return;
                }

                session = NewSession(responder, isInitiator: true, pending.InitiatorId, HandshakeMessages.ResponderId(accept), shared, pending.Init, accept, Address, responder, now);
                peer.Pending = null;
                _pendingCount--;
                _reservedIds.Remove(pending.InitiatorId);
                AddSessionLocked(session);
                MakeCurrentLocked(session, now);
            }
        }

        pending.Dispose();
        Counters.CountCompleted();
        Log.Established(_logger, responder.ToShortString(), session.LocalId);
        pending.Completion.TrySetResult(session);
    }

    private Session NewSession(RouterAddress peer, bool isInitiator, uint localId, uint remoteId, byte[] shared, ReadOnlySpan<byte> init, ReadOnlySpan<byte> accept, RouterAddress initiator, RouterAddress responder, long now)
    {
        Span<byte> transcript = stackalloc byte[KeySchedule.TranscriptHashLength];
        Span<byte> keys = stackalloc byte[2 * KeySchedule.KeyLength];
        try
        {
            KeySchedule.TranscriptHash(initiator, responder, init, accept, transcript);
            KeySchedule.DeriveKeys(shared, transcript, keys[..KeySchedule.KeyLength], keys[KeySchedule.KeyLength..]);
            var initiatorToResponder = keys[..KeySchedule.KeyLength];
            var responderToInitiator = keys[KeySchedule.KeyLength..];
            return isInitiator
                ? new Session(peer, true, localId, remoteId, initiatorToResponder, responderToInitiator, _options.SendLimit, now)
                : new Session(peer, false, localId, remoteId, responderToInitiator, initiatorToResponder, _options.SendLimit, now);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
            CryptographicOperations.ZeroMemory(keys);
        }
    }

    /// <summary>The first message opened on a responder session: the initiator has the keys, so this router may send with it too.</summary>
    private void Confirm(Session session, long now)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(session.LocalId, out var live) || live != session || session.Confirmed)
            {
                return;
            }

            session.Confirm();
            session.Accept = null;
            session.InitiatorEphemeralKey = null;
            if (session.UnconfirmedNode is { } node)
            {
                _unconfirmed.Remove(node);
                session.UnconfirmedNode = null;
            }

            MakeCurrentLocked(session, now);
        }
    }

    /// <summary>Makes <paramref name="session"/> the one new messages are sealed with, unless a newer one already is.</summary>
    private void MakeCurrentLocked(Session session, long now)
    {
        if (_current.TryGetValue(session.Peer, out var current))
        {
            if (current == session || (current.Created > session.Created && GetSendState(current, now) != SendState.Expired))
            {
                return;
            }

            current.Supersede(now);
        }

        _current[session.Peer] = session;
    }

    private void AddSessionLocked(Session session)
    {
        var peer = GetOrAddPeerLocked(session.Peer);
        while (peer.Sessions.Count >= _options.SessionsPerPeer && OldestReplaceable(peer) is { } victim)
        {
            RemoveLocked(victim);
            Counters.CountEvicted();
        }

        while (_sessionCount >= _options.MaxSessions && (_unconfirmed.First?.Value ?? LeastRecentlyUsedLocked()) is { } victim)
        {
            RemoveLocked(victim);
            Counters.CountEvicted();
        }

        if (!session.Confirmed)
        {
            while (_unconfirmed.Count >= _options.MaxPendingHandshakes && _unconfirmed.First is { } oldest)
            {
                RemoveLocked(oldest.Value);
                Counters.CountEvicted();
            }

            session.UnconfirmedNode = _unconfirmed.AddLast(session);
        }

        // Evictions may have removed the peer's entry; take it again.
        peer = GetOrAddPeerLocked(session.Peer);
        peer.Sessions.Add(session);
        _byId[session.LocalId] = session;
        _sessionCount++;
    }

    private Session? OldestReplaceable(PeerSessions peer)
    {
        _current.TryGetValue(peer.Peer, out var current);
        Session? oldest = null;
        foreach (var session in peer.Sessions)
        {
            if (session != current && (oldest is null || session.Created < oldest.Created))
            {
                oldest = session;
            }
        }

        return oldest;
    }

    private Session? LeastRecentlyUsedLocked()
    {
        Session? oldest = null;
        foreach (var session in _byId.Values)
        {
            if (oldest is null || session.LastUsed < oldest.LastUsed)
            {
                oldest = session;
            }
        }

        return oldest;
    }

    /// <summary>The peer says (in a signed, fresh Init) it no longer has the session messages to it carry as <paramref name="lostId"/>.</summary>
    private void ResetLocked(RouterAddress peer, uint lostId, Session keep)
    {
        if (!_peers.TryGetValue(peer, out var state))
        {
            return;
        }

        foreach (var session in state.Sessions)
        {
            if (session.RemoteId == lostId && session != keep)
            {
                RemoveLocked(session);
                Counters.CountReset();
                Log.ResetByPeer(_logger, peer.ToShortString(), session.LocalId);
                return;
            }
        }
    }

    private void RemoveLocked(Session session)
    {
        if (!_byId.TryRemove(KeyValuePair.Create(session.LocalId, session)))
        {
            return;
        }

        _sessionCount--;
        _current.TryRemove(KeyValuePair.Create(session.Peer, session));
        if (session.UnconfirmedNode is { } node)
        {
            _unconfirmed.Remove(node);
            session.UnconfirmedNode = null;
        }

        if (_peers.TryGetValue(session.Peer, out var peer))
        {
            peer.Sessions.Remove(session);
            RemovePeerIfEmptyLocked(peer);
        }

        session.Dispose();
    }

    private PeerSessions GetOrAddPeerLocked(RouterAddress peer)
    {
        if (!_peers.TryGetValue(peer, out var state))
        {
            state = new PeerSessions(peer);
            _peers.Add(peer, state);
        }

        return state;
    }

    private void RemovePeerIfEmptyLocked(PeerSessions peer)
    {
        if (peer.Sessions.Count == 0 && peer.Pending is null)
        {
            _peers.Remove(peer.Peer);
        }
    }

    private void Sweep()
    {
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_disposed || _sessionCount == 0)
            {
                return;
            }

            List<Session>? expired = null;
            foreach (var session in _byId.Values)
            {
                if (!CanReceive(session, now))
                {
                    (expired ??= []).Add(session);
                }
            }

            foreach (var session in expired ?? [])
            {
                RemoveLocked(session);
                Counters.CountExpired();
            }
        }
    }

    private SendState GetSendState(Session session, long now)
    {
        var sent = session.MessagesSent;
        var age = _time.GetElapsedTime(session.Created, now);
        if ((ulong)sent >= _options.SendLimit || age >= _options.SendLifetime || session.SupersededAt != 0)
        {
            return SendState.Expired;
        }

        return sent >= _options.RekeyAfterMessages || age >= _options.RekeyAfter ? SendState.RekeyDue : SendState.Usable;
    }

    private bool CanReceive(Session session, long now)
    {
        var superseded = session.SupersededAt;
        return _time.GetElapsedTime(session.Created, now) <= _options.ReceiveLifetime
            && (superseded == 0 || _time.GetElapsedTime(superseded, now) <= _options.ReceiveGrace);
    }

    private uint NewIdLocked()
    {
        Span<byte> bytes = stackalloc byte[4];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            var id = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            if (id != 0 && !_byId.ContainsKey(id) && !_reservedIds.Contains(id))
            {
                return id;
            }
        }
    }

    /// <summary>Microseconds since 1970, strictly increasing across this router's Inits.</summary>
    private ulong NextTimestampLocked()
    {
        var now = (ulong)Math.Max(0, (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10);
        _lastTimestamp = Math.Max(now, _lastTimestamp + 1);
        return _lastTimestamp;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private enum SendState
    {
        Usable,
        RekeyDue,
        Expired,
    }

    /// <summary>The sessions with one peer and the key exchange with it under way, if any.</summary>
    private sealed class PeerSessions(RouterAddress peer)
    {
        public RouterAddress Peer { get; } = peer;

        public List<Session> Sessions { get; } = [];

        public PendingHandshake? Pending { get; set; }
    }

    /// <summary>A key exchange this router started: its ephemeral key and Init, and the sends waiting for it.</summary>
    private sealed class PendingHandshake(RouterAddress peer, uint initiatorId, ECDiffieHellman ephemeral, byte[] init, long started) : IDisposable
    {
        public RouterAddress Peer { get; } = peer;

        public uint InitiatorId { get; } = initiatorId;

        public ECDiffieHellman Ephemeral { get; } = ephemeral;

        public byte[] Init { get; } = init;

        public long Started { get; } = started;

        public ITimer? Timer { get; set; }

        public TaskCompletionSource<Session?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose()
        {
            Timer?.Dispose();
            Ephemeral.Dispose();
        }
    }

    /// <summary>
    /// The newest Init timestamp accepted from each initiator, in two generations of bounded
    /// size. A replayed Init is refused while its initiator is remembered; once forgotten, a
    /// replay makes one unconfirmed session that can never be used (the replayer has no
    /// ephemeral private key) and is dropped first when space is needed.
    /// </summary>
    private sealed class InitTimestamps(int capacity)
    {
        private Dictionary<RouterAddress, ulong> _current = [];
        private Dictionary<RouterAddress, ulong> _previous = [];

        public ulong Latest(RouterAddress initiator) =>
            Math.Max(_current.GetValueOrDefault(initiator), _previous.GetValueOrDefault(initiator));

        public void Set(RouterAddress initiator, ulong timestamp)
        {
            if (_current.Count >= capacity && !_current.ContainsKey(initiator))
            {
                _previous = _current;
                _current = [];
            }

            _current[initiator] = timestamp;
        }
    }

    /// <summary>A token bucket: <paramref name="perSecond"/> tokens a second, at most as many saved.</summary>
    private sealed class TokenBucket(int perSecond, TimeProvider time)
    {
        private double _tokens = perSecond;
        private long _last = time.GetTimestamp();

        public bool TryTake(long now)
        {
            _tokens = Math.Min(perSecond, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * perSecond));
            _last = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "No end-to-end session with {Peer}: no valid answer to the key exchange within {Seconds} s")]
        public static partial void HandshakeTimedOut(ILogger logger, string peer, double seconds);

        [LoggerMessage(EventId = 5202, Level = LogLevel.Debug, Message = "End-to-end session {Id} with {Peer} established (initiator)")]
        public static partial void Established(ILogger logger, string peer, uint id);

        [LoggerMessage(EventId = 5203, Level = LogLevel.Debug, Message = "End-to-end session {Id} with {Peer} accepted (responder)")]
        public static partial void Accepted(ILogger logger, string peer, uint id);

        [LoggerMessage(EventId = 5204, Level = LogLevel.Information, Message = "End-to-end session {Id} with {Peer} dropped: the peer no longer has it (it restarted or let it expire)")]
        public static partial void ResetByPeer(ILogger logger, string peer, uint id);

        [LoggerMessage(EventId = 5205, Level = LogLevel.Debug, Message = "Session Init to {Peer} not sent: {Result}")]
        public static partial void InitNotSent(ILogger logger, string peer, OriginateResult result);

        [LoggerMessage(EventId = 5206, Level = LogLevel.Warning, Message = "Session Init to {Peer} failed")]
        public static partial void InitFailed(ILogger logger, string peer, Exception exception);
    }
}
