namespace Router.Netmods.Inet;

/// <summary>
/// What the inet netmod counted since it was created: inbound connections accepted, every
/// limit that refused one, and handshakes that failed. Monotonic. Thread-safe: each count is
/// one interlocked add, and none is on the frame path.
/// </summary>
internal sealed class InetCounters
{
    private long _inboundAccepted;
    private long _inboundRefusedTotal;
    private long _inboundRefusedPerAddress;
    private long _inboundRefusedPendingHandshakes;
    private long _handshakeTimeouts;
    private long _handshakesRefused;
    private long _framesTooLarge;

    /// <summary>Inbound connections admitted past every limit (their handshake may still fail).</summary>
    public long InboundAccepted => Volatile.Read(ref _inboundAccepted);

    /// <summary>Inbound connections closed on accept: <c>MaxInboundConnections</c> were already open.</summary>
    public long InboundRefusedTotal => Volatile.Read(ref _inboundRefusedTotal);

    /// <summary>Inbound connections closed on accept: <c>MaxInboundConnectionsPerAddress</c> from that address were already open.</summary>
    public long InboundRefusedPerAddress => Volatile.Read(ref _inboundRefusedPerAddress);

    /// <summary>Inbound connections closed on accept: <c>MaxPendingHandshakes</c> were already in their hello.</summary>
    public long InboundRefusedPendingHandshakes => Volatile.Read(ref _inboundRefusedPendingHandshakes);

    /// <summary>Inbound connections closed because the hello did not arrive within <c>HandshakeTimeoutSeconds</c>.</summary>
    public long HandshakeTimeouts => Volatile.Read(ref _handshakeTimeouts);

    /// <summary>Connections (either direction) closed for a bad hello: wrong magic, another version, no address, tiny frame size.</summary>
    public long HandshakesRefused => Volatile.Read(ref _handshakesRefused);

    /// <summary>Connections closed because the peer announced a frame above <c>MaxFrameSize</c>.</summary>
    public long FramesTooLarge => Volatile.Read(ref _framesTooLarge);

    public void CountInboundAccepted() => Interlocked.Increment(ref _inboundAccepted);

    public void CountInboundRefusedTotal() => Interlocked.Increment(ref _inboundRefusedTotal);

    public void CountInboundRefusedPerAddress() => Interlocked.Increment(ref _inboundRefusedPerAddress);

    public void CountInboundRefusedPendingHandshakes() => Interlocked.Increment(ref _inboundRefusedPendingHandshakes);

    public void CountHandshakeTimeout() => Interlocked.Increment(ref _handshakeTimeouts);

    public void CountHandshakeRefused() => Interlocked.Increment(ref _handshakesRefused);

    public void CountFrameTooLarge() => Interlocked.Increment(ref _framesTooLarge);

    /// <summary>Every counter by a stable camelCase name, in a fixed order, for status displays.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Snapshot() =>
    [
        new("inboundAccepted", InboundAccepted),
        new("inboundRefusedTotal", InboundRefusedTotal),
        new("inboundRefusedPerAddress", InboundRefusedPerAddress),
        new("inboundRefusedPendingHandshakes", InboundRefusedPendingHandshakes),
        new("handshakeTimeouts", HandshakeTimeouts),
        new("handshakesRefused", HandshakesRefused),
        new("framesTooLarge", FramesTooLarge),
    ];

    public override string ToString() => string.Join(", ", Snapshot().Select(c => $"{c.Key} {c.Value}"));
}
