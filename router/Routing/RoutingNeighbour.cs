using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// A neighbour as the routing protocol sees it: its address, the quality of the link, and
/// an opaque <see cref="Link"/> that the caller uses to send to it (a <see cref="NextHop"/> in
/// the router, a simulated link in tests).
/// </summary>
internal sealed class RoutingNeighbour(RouterAddress address, object link)
{
    public RouterAddress Address { get; } = address;

    public object Link { get; } = link;

    public LinkQuality Quality { get; } = new();

    /// <summary>The link cost routes were last computed with; changes beyond a margin trigger reselection.</summary>
    public ushort Cost { get; set; } = Metric.Infinity;

    public ushort HelloSeqno { get; set; }

    public TimeSpan NextHello { get; set; }

    public override string ToString() => Address.ToShortString();
}

/// <summary>Where the routing engine's messages and decisions go.</summary>
internal interface IRoutingOutput
{
    void SendHello(RoutingNeighbour to, in Hello hello);

    void SendUpdate(RoutingNeighbour to, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes);

    void SendSeqnoRequest(RoutingNeighbour to, in SeqnoRequest request);

    /// <summary>The selected routes changed; republish the forwarding table.</summary>
    void RoutesChanged();
}
