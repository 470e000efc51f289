namespace Router.Netmods.Tun;

/// <summary>
/// What the tun netmod counted since it was created: packets and bytes each way, the software
/// offload work done, and every reason a packet was dropped. Monotonic. Thread-safe: the hot
/// paths count with one uncontended interlocked add each.
/// </summary>
/// <remarks>Bytes are IP bytes, without the 10-byte virtio header.</remarks>
internal sealed class TunCounters
{
    private long _packetsRead;
    private long _bytesRead;
    private long _gsoPacketsRead;
    private long _readAfterWrites;
    private long _nonIpDropped;
    private long _readErrors;
    private long _incomingFullWaits;
    private long _packetsWritten;
    private long _bytesWritten;
    private long _segmentedInSoftware;
    private long _checksumsCompleted;
    private long _malformedDropped;
    private long _writeErrors;
    private long _routeErrors;

    /// <summary>IP packets read from the device and handed to the router.</summary>
    public long PacketsRead => Volatile.Read(ref _packetsRead);

    /// <summary>Their IP bytes.</summary>
    public long BytesRead => Volatile.Read(ref _bytesRead);

    /// <summary>Of those, GSO super-packets: TCP the kernel left for the far end to segment (Offload only).</summary>
    public long GsoPacketsRead => Volatile.Read(ref _gsoPacketsRead);

    /// <summary>Of those, packets read on the thread that had just written to the device (the machine's answers to what it wrote) rather than by the reader.</summary>
    public long ReadAfterWrites => Volatile.Read(ref _readAfterWrites);

    /// <summary>Packets read that were not IPv4 or IPv6 (by the version nibble), or shorter than a virtio header; dropped.</summary>
    public long NonIpDropped => Volatile.Read(ref _nonIpDropped);

    /// <summary>Reads that failed with an error other than "nothing to read".</summary>
    public long ReadErrors => Volatile.Read(ref _readErrors);

    /// <summary>Times the reader found the router's incoming channel full and waited for room.</summary>
    public long IncomingFullWaits => Volatile.Read(ref _incomingFullWaits);

    /// <summary>Packets written to the device (each software segment counts).</summary>
    public long PacketsWritten => Volatile.Read(ref _packetsWritten);

    /// <summary>Their IP bytes.</summary>
    public long BytesWritten => Volatile.Read(ref _bytesWritten);

    /// <summary>Super-packets cut into segments by the netmod (a device without Offload).</summary>
    public long SegmentedInSoftware => Volatile.Read(ref _segmentedInSoftware);

    /// <summary>Transport checksums the netmod completed (a device without Offload; not counting segments).</summary>
    public long ChecksumsCompleted => Volatile.Read(ref _checksumsCompleted);

    /// <summary>Frames from the mesh that were not a usable IP packet with a consistent virtio header; dropped.</summary>
    public long MalformedDropped => Volatile.Read(ref _malformedDropped);

    /// <summary>Writes the kernel refused.</summary>
    public long WriteErrors => Volatile.Read(ref _writeErrors);

    /// <summary>Routes to mesh prefixes that could not be added or removed.</summary>
    public long RouteErrors => Volatile.Read(ref _routeErrors);

    public void CountRead(int bytes, bool gso, bool byReader)
    {
        Interlocked.Increment(ref _packetsRead);
        Interlocked.Add(ref _bytesRead, bytes);
        if (gso)
        {
            Interlocked.Increment(ref _gsoPacketsRead);
        }

        if (!byReader)
        {
            Interlocked.Increment(ref _readAfterWrites);
        }
    }

    public void CountNonIp() => Interlocked.Increment(ref _nonIpDropped);

    public void CountReadError() => Interlocked.Increment(ref _readErrors);

    public void CountIncomingFullWait() => Interlocked.Increment(ref _incomingFullWaits);

    public void CountWritten(int bytes)
    {
        Interlocked.Increment(ref _packetsWritten);
        Interlocked.Add(ref _bytesWritten, bytes);
    }

    public void CountSegmented() => Interlocked.Increment(ref _segmentedInSoftware);

    public void CountChecksumCompleted() => Interlocked.Increment(ref _checksumsCompleted);

    public void CountMalformed() => Interlocked.Increment(ref _malformedDropped);

    public void CountWriteError() => Interlocked.Increment(ref _writeErrors);

    public void CountRouteError() => Interlocked.Increment(ref _routeErrors);

    /// <summary>Every counter by a stable camelCase name, in a fixed order, for status displays.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> Snapshot() =>
    [
        new("packetsRead", PacketsRead),
        new("bytesRead", BytesRead),
        new("gsoPacketsRead", GsoPacketsRead),
        new("readAfterWrites", ReadAfterWrites),
        new("nonIpDropped", NonIpDropped),
        new("readErrors", ReadErrors),
        new("incomingFullWaits", IncomingFullWaits),
        new("packetsWritten", PacketsWritten),
        new("bytesWritten", BytesWritten),
        new("segmentedInSoftware", SegmentedInSoftware),
        new("checksumsCompleted", ChecksumsCompleted),
        new("malformedDropped", MalformedDropped),
        new("writeErrors", WriteErrors),
        new("routeErrors", RouteErrors),
    ];

    public override string ToString() => string.Join(", ", Snapshot().Select(c => $"{c.Key} {c.Value}"));
}
