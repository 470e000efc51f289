namespace Router.Netmods.Udp;

/// <summary>
/// What the udp netmod counted since it was created: datagrams in, frames delivered, and every
/// reason a datagram was dropped or refused. Monotonic. Thread-safe; read for tests and
/// diagnostics (<see cref="Snapshot"/>). Successful paths count with one uncontended
/// interlocked add; drops are rare.
/// </summary>
internal sealed class UdpCounters
{
    private long _datagramsReceived;
    private long _framesDelivered;
    private long _malformed;
    private long _notNeighbour;
    private long _tooLarge;
    private long _incomingFull;
    private long _control;
    private long _controlQueueFull;
    private long _sendErrors;
    private long _sendBufferFull;
    private long _receiveErrors;
    private long _handshakesRateLimited;
    private long _strangersNotAnswered;
    private long _pathsRefusedTotal;
    private long _pathsRefusedPerAddress;
    private long _segmentedSends;
    private long _coalescedReceives;
    private long _truncated;

    /// <summary>Datagrams read from any socket.</summary>
    public long DatagramsReceived => Volatile.Read(ref _datagramsReceived);

    /// <summary>Frames written to the incoming channel.</summary>
    public long FramesDelivered => Volatile.Read(ref _framesDelivered);

    /// <summary>Datagrams that failed to parse: empty, unknown type, truncated, bad magic, impossible fields.</summary>
    public long Malformed => Volatile.Read(ref _malformed);

    /// <summary>Data or keepalive datagrams from an endpoint that is no neighbour's path.</summary>
    public long NotNeighbour => Volatile.Read(ref _notNeighbour);

    /// <summary>Data datagrams longer than this router's MaxFrameSize.</summary>
    public long TooLarge => Volatile.Read(ref _tooLarge);

    /// <summary>Frames dropped because the incoming channel was full (the router is behind).</summary>
    public long IncomingFull => Volatile.Read(ref _incomingFull);

    /// <summary>Hellos, hello-acks and beacons handed to the control loop.</summary>
    public long Control => Volatile.Read(ref _control);

    /// <summary>Control datagrams dropped because the control loop was behind.</summary>
    public long ControlQueueFull => Volatile.Read(ref _controlQueueFull);

    /// <summary>Sends the kernel refused (no route, interface gone).</summary>
    public long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>Datagrams the kernel did not take at once because the socket's send buffer was full (WouldBlock on the non-blocking socket); lost, like any UDP datagram.</summary>
    public long SendBufferFull => Volatile.Read(ref _sendBufferFull);

    /// <summary>Receive calls that failed with a socket error.</summary>
    public long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>Hellos, hello-acks and beacons dropped because their source address was over <c>HandshakeRatePerAddress</c>.</summary>
    public long HandshakesRateLimited => Volatile.Read(ref _handshakesRateLimited);

    /// <summary>Data or keepalives from no neighbour's path left unanswered: the source, or all strangers together, were over their limit.</summary>
    public long StrangersNotAnswered => Volatile.Read(ref _strangersNotAnswered);

    /// <summary>Hellos and hello-acks dropped unanswered because <c>MaxInboundPaths</c> paths were open.</summary>
    public long PathsRefusedTotal => Volatile.Read(ref _pathsRefusedTotal);

    /// <summary>Hellos and hello-acks dropped unanswered because <c>MaxInboundPathsPerAddress</c> paths to that address were open.</summary>
    public long PathsRefusedPerAddress => Volatile.Read(ref _pathsRefusedPerAddress);

    /// <summary>Runs of datagrams handed to the kernel with one segmented send (UDP_SEGMENT).</summary>
    public long SegmentedSends => Volatile.Read(ref _segmentedSends);

    /// <summary>Receives that returned several datagrams coalesced by the kernel (UDP_GRO).</summary>
    public long CoalescedReceives => Volatile.Read(ref _coalescedReceives);

    /// <summary>Receives cut short because more arrived than the receive buffer holds; the datagram cut is dropped, the whole ones before it are handled.</summary>
    public long Truncated => Volatile.Read(ref _truncated);

    public void CountReceived() => Interlocked.Increment(ref _datagramsReceived);

    public void CountReceived(int datagrams) => Interlocked.Add(ref _datagramsReceived, datagrams);

    public void CountSegmentedSend() => Interlocked.Increment(ref _segmentedSends);

    public void CountCoalescedReceive() => Interlocked.Increment(ref _coalescedReceives);

    public void CountTruncated() => Interlocked.Increment(ref _truncated);

    public void CountDelivered() => Interlocked.Increment(ref _framesDelivered);

    public void CountMalformed() => Interlocked.Increment(ref _malformed);

    public void CountNotNeighbour() => Interlocked.Increment(ref _notNeighbour);

    public void CountTooLarge() => Interlocked.Increment(ref _tooLarge);

    public void CountIncomingFull() => Interlocked.Increment(ref _incomingFull);

    public void CountControl() => Interlocked.Increment(ref _control);

    public void CountControlQueueFull() => Interlocked.Increment(ref _controlQueueFull);

    public void CountSendError() => Interlocked.Increment(ref _sendErrors);

    public void CountSendBufferFull() => Interlocked.Increment(ref _sendBufferFull);

    public void CountReceiveError() => Interlocked.Increment(ref _receiveErrors);

    public void CountHandshakeRateLimited() => Interlocked.Increment(ref _handshakesRateLimited);

    public void CountStrangerNotAnswered() => Interlocked.Increment(ref _strangersNotAnswered);

    public void CountPathRefusedTotal() => Interlocked.Increment(ref _pathsRefusedTotal);

    public void CountPathRefusedPerAddress() => Interlocked.Increment(ref _pathsRefusedPerAddress);

    /// <summary>Every counter by a stable camelCase name, in a fixed order, for status displays.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Snapshot() =>
    [
        new("datagramsReceived", DatagramsReceived),
        new("framesDelivered", FramesDelivered),
        new("malformed", Malformed),
        new("notNeighbour", NotNeighbour),
        new("tooLarge", TooLarge),
        new("incomingFull", IncomingFull),
        new("control", Control),
        new("controlQueueFull", ControlQueueFull),
        new("sendErrors", SendErrors),
        new("sendBufferFull", SendBufferFull),
        new("receiveErrors", ReceiveErrors),
        new("handshakesRateLimited", HandshakesRateLimited),
        new("strangersNotAnswered", StrangersNotAnswered),
        new("pathsRefusedTotal", PathsRefusedTotal),
        new("pathsRefusedPerAddress", PathsRefusedPerAddress),
        new("segmentedSends", SegmentedSends),
        new("coalescedReceives", CoalescedReceives),
        new("truncated", Truncated),
    ];

    public override string ToString() => string.Join(", ", Snapshot().Select(c => $"{c.Key} {c.Value}"));
}
