using Router.Hosting;
using Router.Sdk;

namespace Router.Routing;

/// <summary>A live link to a neighbouring router.</summary>
internal sealed record Neighbour(NetmodInstance Netmod, NeighbourId Id, RouterAddress Address, string RemoteEndpoint, DateTimeOffset Since);

/// <summary>
/// The live links every netmod reports, for status. (Routes through them are the routing
/// protocol's business: see <see cref="RoutingService"/>.)
/// </summary>
internal sealed class NeighbourTable
{
    private readonly object _gate = new();
    private readonly List<Neighbour> _neighbours = [];
    private readonly TimeProvider _time;

    public NeighbourTable(TimeProvider time)
    {
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
        }
    }

    /// <summary>Forgets every neighbour of a netmod that stopped.</summary>
    public void RemoveNetmod(NetmodInstance netmod)
    {
        lock (_gate)
        {
            _neighbours.RemoveAll(n => n.Netmod == netmod);
        }
    }
}
