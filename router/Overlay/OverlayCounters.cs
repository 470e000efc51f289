namespace Router.Overlay;

/// <summary>Why the <see cref="PacketGateway"/> dropped an IP packet. Each has a counter in <see cref="OverlayCounters"/>.</summary>
internal enum PacketDrop
{
    /// <summary>From the interface: not an IPv4 or IPv6 packet, or too short for its header.</summary>
    NotIp,

    /// <summary>From the interface: a multicast or broadcast destination (the mesh carries unicast only).</summary>
    NotUnicast,

    /// <summary>From the interface: no router serves the destination address.</summary>
    NoRoute,

    /// <summary>From the interface: the destination is this router's own (the operating system should not have sent it here).</summary>
    ToSelf,

    /// <summary>No end-to-end session with the destination router could be made in time.</summary>
    NoSession,

    /// <summary>Packets waiting for a key exchange exceeded the per-destination or total limit.</summary>
    WaitingFull,

    /// <summary>The next hop's netmod did not take the frame.</summary>
    SendFailed,

    /// <summary>From the mesh: a record that does not parse.</summary>
    MalformedBatch,

    /// <summary>From the mesh: the destination address is not served by this router.</summary>
    NotForThisRouter,

    /// <summary>From the mesh: the source address does not belong to the router that sent the packet.</summary>
    SpoofedSource,

    /// <summary>From the mesh: this router has no IP interface running.</summary>
    NoInterface,

    /// <summary>From the mesh: the IP interface did not take the packet.</summary>
    InterfaceRefused,
}

/// <summary>Packet counters of the IP overlay; lock-free increments, read by status.</summary>
internal sealed class OverlayCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<PacketDrop>().Length];
    private long _packetsOut;
    private long _bytesOut;
    private long _batchesOut;
    private long _packetsIn;
    private long _bytesIn;
    private long _batchesIn;
    private long _unreachable;

    /// <summary>Packets from the interface sent into the mesh, their IP bytes, and the sealed batches that carried them.</summary>
    public (long Packets, long Bytes, long Batches) Sent => (Interlocked.Read(ref _packetsOut), Interlocked.Read(ref _bytesOut), Interlocked.Read(ref _batchesOut));

    /// <summary>Packets from the mesh handed to the interface, their IP bytes, and the batches they came in.</summary>
    public (long Packets, long Bytes, long Batches) Received => (Interlocked.Read(ref _packetsIn), Interlocked.Read(ref _bytesIn), Interlocked.Read(ref _batchesIn));

    /// <summary>ICMPv6 "no route" errors written back to the interface (<see cref="Unreachable"/>).</summary>
    public long UnreachableSent => Interlocked.Read(ref _unreachable);

    public void CountUnreachableSent() => Interlocked.Increment(ref _unreachable);

    public void CountSent(int packets, long bytes)
    {
        Interlocked.Add(ref _packetsOut, packets);
        Interlocked.Add(ref _bytesOut, bytes);
        Interlocked.Increment(ref _batchesOut);
    }

    public void CountReceivedBatch() => Interlocked.Increment(ref _batchesIn);

    public void CountReceived(int bytes)
    {
        Interlocked.Increment(ref _packetsIn);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    public void CountDrop(PacketDrop reason, int packets = 1) => Interlocked.Add(ref _drops[(int)reason], packets);

    public long Drops(PacketDrop reason) => Interlocked.Read(ref _drops[(int)reason]);
}
