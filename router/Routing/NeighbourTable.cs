using Router.Hosting;
using Router.Sdk;

namespace Router.Routing;

/// <summary>A live link to a neighbouring router.</summary>
internal sealed record Neighbour(NetmodInstance Netmod, NeighbourId Id, RouterAddress Address, string RemoteEndpoint, DateTimeOffset Since);

/// <summary>
/// The neighbours every netmod reports, and the direct routes they give. Today the route
/// table holds only these direct routes; the routing protocol will add routes through them.
/// When several links reach one router, the one that came up first is used.
/// </summary>
internal sealed class NeighbourTable
{
    private readonly object _gate = new();
    private readonly List<Neighbour> _neighbours = [];
    private readonly RouteTable _routes;
    private readonly TimeProvider _time;

    public NeighbourTable(RouteTable routes, TimeProvider time)
    {
        _routes = routes;
        _time = time;
    }

    public IReadOnlyList<Neighbour> Snapshot()
    {
        lock (_gate)
        {
            return [.. _neighbours];
        }
    }

    public void Apply(NetmodInstance netmod, NeighbourEvent e)
    {
        lock (_gate)
        {
            _neighbours.RemoveAll(n => n.Netmod == netmod && n.Id == e.Neighbour);
            if (e.Kind == NeighbourEventKind.Up)
            {
                _neighbours.Add(new Neighbour(netmod, e.Neighbour, e.Address, e.RemoteEndpoint, _time.GetUtcNow()));
            }

            PublishRoutes();
        }
    }

    /// <summary>Forgets every neighbour of a netmod that stopped.</summary>
    public void RemoveNetmod(NetmodInstance netmod)
    {
        lock (_gate)
        {
            _neighbours.RemoveAll(n => n.Netmod == netmod);
            PublishRoutes();
        }
    }

    private void PublishRoutes()
    {
        var routes = new Dictionary<RouterAddress, NextHop>();
        foreach (var n in _neighbours)
        {
            if (!n.Address.IsNone)
            {
                routes.TryAdd(n.Address, new NextHop(n.Netmod, n.Id, n.Address));
            }
        }

        _routes.Publish(routes);
    }
}
