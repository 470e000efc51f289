using Router.Sdk;
using Router.Switching;

namespace Router.Security.Sessions;

/// <summary>What happened to a sealed message this router tried to open.</summary>
internal enum OpenResult
{
    Opened,
    Malformed,
    UnknownSession,
    BadTag,
    Replayed,
}

/// <summary>
/// One end-to-end session with a peer: a key and counter for each direction. Sealing and
/// opening allocate nothing (the caller provides the buffers) and each direction has its own
/// lock, because an <see cref="AeadKey"/> may not be safe for concurrent use and the
/// counter must be taken and used under the same lock. Lifecycle (current, superseded,
/// confirmed) is kept by <see cref="SessionService"/> under its lock; the fields it reads
/// without that lock are volatile or read with <see cref="Interlocked"/>.
/// </summary>
internal sealed class Session : IDisposable
{
    private readonly Lock _sendLock = new();
    private readonly Lock _receiveLock = new();
    private readonly AeadKey _send;
    private readonly AeadKey _receive;
    private readonly MessageReplayWindow _window = new();
    private readonly uint _sendDirection;
    private readonly uint _receiveDirection;
    private readonly ulong _sendLimit;
    private long _nextCounter;
    private long _received;
    private int _rekeyStarted;
    private bool _disposed;
    private volatile bool _confirmed;
    private long _supersededAt;
    private long _lastUsed;

    public Session(RouterAddress peer, bool initiator, uint localId, uint remoteId, ReadOnlySpan<byte> sendKey, ReadOnlySpan<byte> receiveKey, ulong sendLimit, long created)
    {
        Peer = peer;
        IsInitiator = initiator;
        LocalId = localId;
        RemoteId = remoteId;
        Created = created;
        _lastUsed = created;
        _sendLimit = sendLimit;
        _send = new AeadKey(sendKey);
        _receive = new AeadKey(receiveKey);
        _sendDirection = initiator ? 0u : 1u;
        _receiveDirection = initiator ? 1u : 0u;

        // The initiator verified the responder's Accept; the responder learns the initiator has
        // the keys when the first message opens.
        _confirmed = initiator;
    }

    public RouterAddress Peer { get; }

    public bool IsInitiator { get; }

    /// <summary>The id messages to this router carry (chosen here).</summary>
    public uint LocalId { get; }

    /// <summary>The id messages to the peer carry (chosen by the peer).</summary>
    public uint RemoteId { get; }

    /// <summary>When the key exchange finished here (a <see cref="TimeProvider"/> timestamp).</summary>
    public long Created { get; }

    public bool Confirmed => _confirmed;

    public long MessagesSent => Interlocked.Read(ref _nextCounter);

    public long MessagesReceived => Interlocked.Read(ref _received);

    /// <summary>When a newer session replaced this one for sending (0: not replaced).</summary>
    public long SupersededAt => Interlocked.Read(ref _supersededAt);

    public long LastUsed => Interlocked.Read(ref _lastUsed);

    /// <summary>The responder's Accept, kept until the session is confirmed so a retransmitted Init gets it again.</summary>
    public byte[]? Accept { get; set; }

    /// <summary>The initiator's ephemeral key, kept with <see cref="Accept"/> to recognise a retransmitted Init.</summary>
    public byte[]? InitiatorEphemeralKey { get; set; }

    /// <summary>When <see cref="Accept"/> was last sent (a timestamp), to send it again at most every so often.</summary>
    public long AcceptSentAt { get; set; }

    /// <summary>The responder's entry in the service's list of unconfirmed sessions.</summary>
    public LinkedListNode<Session>? UnconfirmedNode { get; set; }

    public void Confirm() => _confirmed = true;

    public void Supersede(long now) => Interlocked.CompareExchange(ref _supersededAt, now, 0);

    /// <summary>True for the one caller that gets to start this session's re-key.</summary>
    public bool TryStartRekey() => Interlocked.Exchange(ref _rekeyStarted, 1) == 0;

    /// <summary>Lets a later send start the re-key again (the last attempt failed).</summary>
    public void RekeyFailed() => Volatile.Write(ref _rekeyStarted, 0);

    /// <summary>
    /// Seals a message from <paramref name="source"/> to the peer into <paramref name="output"/>
    /// (<see cref="SealedMessage.Overhead"/> bytes longer than <paramref name="plaintext"/>; its
    /// length is the message length bound into the tag). False once the session may seal no more.
    /// </summary>
    public bool TrySeal(FrameKind kind, RouterAddress source, uint messageId, ReadOnlySpan<byte> plaintext, Span<byte> output, long now)
    {
        Span<byte> aad = stackalloc byte[SealedMessage.AssociatedDataLength];
        SealedMessage.WriteAssociatedData(aad, kind, Peer, source, messageId, (uint)output.Length);
        lock (_sendLock)
        {
            var counter = (ulong)_nextCounter;
            if (_disposed || counter >= _sendLimit)
            {
                return false;
            }

            SealedMessage.Seal(_send, _sendDirection, RemoteId, counter, aad, plaintext, output);
            Volatile.Write(ref _nextCounter, (long)counter + 1);
        }

        Volatile.Write(ref _lastUsed, now);
        return true;
    }

    /// <summary>
    /// Opens a sealed message addressed to this session (the caller matched id and peer) into
    /// <paramref name="plaintext"/>, exactly <see cref="SealedMessage.Overhead"/> bytes shorter.
    /// Replayed counters are refused before any decryption.
    /// </summary>
    public OpenResult TryOpen(ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> associatedData, long now, Span<byte> plaintext)
    {
        var counter = SealedMessage.Counter(sealedMessage);
        lock (_receiveLock)
        {
            if (_disposed)
            {
                return OpenResult.UnknownSession;
            }

            if (!_window.CanAccept(counter))
            {
                return OpenResult.Replayed;
            }

            if (!SealedMessage.TryOpen(_receive, _receiveDirection, sealedMessage, associatedData, plaintext))
            {
                return OpenResult.BadTag;
            }

            _window.Mark(counter);
        }

        Interlocked.Increment(ref _received);
        Volatile.Write(ref _lastUsed, now);
        return OpenResult.Opened;
    }

    public void Dispose()
    {
        lock (_sendLock)
        {
            lock (_receiveLock)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _send.Dispose();
                _receive.Dispose();
            }
        }
    }
}
