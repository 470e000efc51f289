namespace Router.Security.Sessions;

/// <summary>
/// Limits and timers of end-to-end sessions (docs/security.md, "End-to-end sessions").
/// Immutable; the configurable ones come from the <c>Router</c> section
/// (<c>SessionHandshakeTimeoutSeconds</c>, <c>RekeyAfterMessages</c>, <c>RekeyAfterSeconds</c>,
/// <c>MaxSessions</c>), the rest are fixed here with the reason for each value.
/// </summary>
internal sealed record SessionOptions
{
    /// <summary>How long a send waits for a key exchange before it fails; Init is retransmitted meanwhile.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time between retransmissions of an unanswered Init (capped at <see cref="HandshakeTimeout"/>).</summary>
    public TimeSpan RetransmitInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After this many messages sent on a session, a new key exchange starts; the session keeps
    /// carrying messages until the new one is ready, up to twice this many.
    /// </summary>
    public long RekeyAfterMessages { get; init; } = 1L << 32;

    /// <summary>
    /// After this long a new key exchange starts (when there is something to send); the session
    /// may send for <see cref="HandshakeTimeout"/> more while the exchange runs.
    /// </summary>
    public TimeSpan RekeyAfter { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// How long a replaced session still opens messages, so messages sealed just before the
    /// switch and still being reassembled are not lost. Set from <c>Router:ReassemblyTimeoutSeconds</c>
    /// plus the handshake timeout when read from configuration.
    /// </summary>
    public TimeSpan ReceiveGrace { get; init; } = TimeSpan.FromSeconds(35);

    /// <summary>Live sessions in total; beyond it the least recently used is dropped.</summary>
    public int MaxSessions { get; init; } = 16_384;

    /// <summary>
    /// Sessions with one peer (current, being replaced, simultaneous exchanges); beyond it the
    /// oldest that is not the current one is dropped. Eight leaves room for a re-key from each
    /// side while two older sessions finish their grace period.
    /// </summary>
    public int SessionsPerPeer { get; init; } = 8;

    /// <summary>
    /// Key exchanges this router started and is waiting on, and responder sessions no message
    /// has arrived on yet: each at most this many. An attacker who signs Inits with keys of its
    /// own can fill the second; the oldest is dropped, so it cannot hold the space.
    /// </summary>
    public int MaxPendingHandshakes { get; init; } = 1024;

    /// <summary>
    /// Inits this router answers per second, on average (burst of as many). Answering costs a
    /// signature check, a key generation, an ECDH and a signature (about 0.3 ms), all on the
    /// switch loop, so this bounds what a stream of Inits can take from forwarding.
    /// </summary>
    public int InitsPerSecond { get; init; } = 500;

    /// <summary>
    /// Key exchanges started per second, on average, to tell a sender that a session it used is
    /// unknown here (after a restart). Anyone can trigger these with forged messages, so they
    /// are rate-limited and may use at most half of <see cref="MaxPendingHandshakes"/>.
    /// </summary>
    public int ResetsPerSecond { get; init; } = 20;

    /// <summary>Routers whose newest Init timestamp is remembered, per generation (two generations).</summary>
    public int RememberedInitiators { get; init; } = 16_384;

    /// <summary>The most messages one session may seal: twice <see cref="RekeyAfterMessages"/>, far below where a counter could wrap.</summary>
    public ulong SendLimit => (ulong)Math.Min(RekeyAfterMessages, long.MaxValue / 4) * 2;

    /// <summary>A session older than this seals nothing: the re-key had <see cref="HandshakeTimeout"/> to finish.</summary>
    public TimeSpan SendLifetime => RekeyAfter + HandshakeTimeout;

    /// <summary>A session older than this opens nothing and is removed.</summary>
    public TimeSpan ReceiveLifetime => SendLifetime + ReceiveGrace;
}
