namespace Router.Routing;

/// <summary>
/// Route metrics: 16-bit costs that add along a path and saturate at <see cref="Infinity"/>,
/// which means "unreachable" (a retraction). One unit is 100 µs of round-trip time; every
/// hop costs at least <see cref="RoutingOptions.HopCost"/> so that hop count breaks ties on
/// fast links.
/// </summary>
internal static class Metric
{
    public const ushort Infinity = 0xFFFF;

    public static ushort Add(ushort a, ushort b)
    {
        var sum = a + b;
        return sum >= Infinity ? Infinity : (ushort)sum;
    }
}

/// <summary>
/// Sequence numbers compare in 16-bit serial arithmetic (RFC 1982), so they may wrap:
/// <c>a</c> is newer than <c>b</c> when it is ahead by less than half the space.
/// </summary>
internal static class Seqno
{
    public static bool IsNewer(ushort a, ushort b) => a != b && (ushort)(a - b) < 0x8000;

    public static bool IsNewerOrEqual(ushort a, ushort b) => a == b || IsNewer(a, b);
}
