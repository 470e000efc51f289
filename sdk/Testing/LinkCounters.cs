namespace Router.Sdk.Testing;

/// <summary>
/// What happened to the frames sent in one direction of a simulated link, read with
/// <see cref="SimulatedNetwork.GetCounters"/>. A snapshot: it does not change afterwards.
/// Every frame accepted is eventually delivered, lost or dropped, so
/// <c>Sent = Delivered + Lost + Dropped + InFlight</c>.
/// </summary>
/// <param name="Sent">Frames accepted by a send (<see cref="SendResult.Sent"/>, or counted by <see cref="Netmod.SendAllAsync"/>).</param>
/// <param name="Delivered">Frames written into the receiver's <see cref="Netmod.Incoming"/>.</param>
/// <param name="Lost">Frames lost in transit: by <see cref="LinkProperties.Loss"/> or while the link was silent.</param>
/// <param name="Dropped">Accepted frames discarded without reaching the receiver's reader: its
/// <see cref="Netmod.Incoming"/> was full, the link went down or the receiver stopped while they
/// were in flight, or they were larger than the receiver's maximum frame size.</param>
/// <param name="QueueFull">Sends refused with <see cref="SendResult.QueueFull"/>; not part of <paramref name="Sent"/>.</param>
public readonly record struct LinkCounters(long Sent, long Delivered, long Lost, long Dropped, long QueueFull)
{
    /// <summary>Accepted frames not yet delivered, lost or dropped.</summary>
    public long InFlight => Sent - Delivered - Lost - Dropped;

    /// <summary>Adds two sets of counters, e.g. both directions of a link.</summary>
    /// <param name="left">The first counters.</param>
    /// <param name="right">The second counters.</param>
    public static LinkCounters operator +(LinkCounters left, LinkCounters right) => new(
        left.Sent + right.Sent,
        left.Delivered + right.Delivered,
        left.Lost + right.Lost,
        left.Dropped + right.Dropped,
        left.QueueFull + right.QueueFull);
}
