namespace Router.Switching;

/// <summary>Why the switch dropped a frame. Each has a counter in <see cref="SwitchCounters"/>.</summary>
internal enum DropReason
{
    Malformed,
    UnknownVersion,
    UnknownKind,
    MessageTooLarge,
    HopLimitExceeded,
    NoRoute,
    WouldReturnToSender,
    NeighbourGone,
    NextHopTooSmall,
    QueueFull,
    NetmodStopped,
    DuplicateFlood,

    /// <summary>From a link that has not authenticated, or a control frame whose link seal failed (details in the link counters).</summary>
    LinkAuthentication,
}

/// <summary>
/// Frame counters of the switch. Lock-free increments; readers see a consistent enough
/// snapshot for status and metrics.
/// </summary>
internal sealed class SwitchCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private long _received;
    private long _forwarded;
    private long _delivered;
    private long _resliced;

    public long Received => Interlocked.Read(ref _received);

    public long Forwarded => Interlocked.Read(ref _forwarded);

    public long DeliveredLocally => Interlocked.Read(ref _delivered);

    /// <summary>Forwarded frames cut into smaller slices for the next hop's link.</summary>
    public long Resliced => Interlocked.Read(ref _resliced);

    public void CountResliced() => Interlocked.Increment(ref _resliced);

    public void CountReceived() => Interlocked.Increment(ref _received);

    public void CountForwarded() => Interlocked.Increment(ref _forwarded);

    public void CountDelivered() => Interlocked.Increment(ref _delivered);

    public void CountDrop(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    public long Drops(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    public IReadOnlyDictionary<DropReason, long> DropSnapshot() =>
        Enum.GetValues<DropReason>().ToDictionary(r => r, Drops);
}
