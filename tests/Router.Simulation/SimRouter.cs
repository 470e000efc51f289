using Router.Routing;
using Router.Sdk;

namespace Router.Simulation;

/// <summary>One simulated router: a real <see cref="RoutingEngine"/> whose messages go over simulated links.</summary>
public sealed class SimRouter : IRoutingOutput
{
    private readonly MeshSimulation _simulation;
    private readonly Dictionary<int, RoutingNeighbour> _neighbours = [];
    private readonly List<RouteAdvert> _received = [];
    private TimeSpan _tickAt = TimeSpan.MaxValue;
    private bool _started;

    internal SimRouter(MeshSimulation simulation, int index, RouterAddress address)
    {
        _simulation = simulation;
        Index = index;
        Address = address;
        Engine = new RoutingEngine(address, simulation.Options, this, TimeSpan.Zero);
    }

    public int Index { get; }

    public RouterAddress Address { get; }

    internal RoutingEngine Engine { get; }

    public int RouteCount => Engine.SelectedRoutes().Count();

    internal bool HasNeighbour(int other) => _neighbours.ContainsKey(other);

    internal void Start()
    {
        _started = true;
        foreach (var neighbour in _neighbours.Values)
        {
            Engine.NeighbourUp(neighbour, _simulation.Now);
        }

        ScheduleTick(_simulation.Now);
    }

    internal void LinkUp(int other)
    {
        var neighbour = new RoutingNeighbour(_simulation.Routers[other].Address, other);
        _neighbours[other] = neighbour;
        if (_started)
        {
            Engine.NeighbourUp(neighbour, _simulation.Now);
            ScheduleTick(_simulation.Now + _simulation.HelloInterval);
        }
    }

    internal void LinkDown(int other)
    {
        if (_neighbours.Remove(other, out var neighbour) && _started)
        {
            Engine.NeighbourDown(neighbour, _simulation.Now);
        }
    }

    private void ScheduleTick(TimeSpan at)
    {
        if (at >= _tickAt)
        {
            return;
        }

        _tickAt = at;
        _simulation.Schedule(at, () =>
        {
            if (_tickAt != at)
            {
                return; // superseded by an earlier tick
            }

            _tickAt = TimeSpan.MaxValue;
            ScheduleTick(Engine.Tick(_simulation.Now));
        });
    }

    private RoutingNeighbour? From(int other) => _neighbours.GetValueOrDefault(other);

    void IRoutingOutput.SendHello(RoutingNeighbour to, in Hello hello)
    {
        var copy = hello;
        _simulation.Transmit(Index, (int)to.Link, Hello.Size, target =>
        {
            if (target.From(Index) is { } neighbour)
            {
                target.Engine.OnHello(neighbour, copy, _simulation.Now);
            }
        });
    }

    void IRoutingOutput.SendUpdate(RoutingNeighbour to, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        var copy = routes.ToArray();
        _simulation.Transmit(Index, (int)to.Link, UpdateMessage.Size(copy.Length), target =>
        {
            if (target.From(Index) is { } neighbour)
            {
                target._received.Clear();
                target._received.AddRange(copy);
                target.Engine.OnUpdate(neighbour, intervalCentiseconds, target._received, _simulation.Now);
            }
        });
    }

    void IRoutingOutput.SendSeqnoRequest(RoutingNeighbour to, in SeqnoRequest request)
    {
        var copy = request;
        _simulation.Trace?.Invoke($"{_simulation.Now.TotalMilliseconds:F1} ms: seqno request {Index} -> {(int)to.Link} for {_simulation.Routers.FindIndex(r => r.Address == copy.Origin)} seqno {copy.Seqno} hops {copy.HopCount}");
        _simulation.Transmit(Index, (int)to.Link, SeqnoRequest.Size, target =>
        {
            if (target.From(Index) is { } neighbour)
            {
                target.Engine.OnSeqnoRequest(neighbour, copy, _simulation.Now);
            }
        });
    }

    void IRoutingOutput.RoutesChanged() => _simulation.OnRoutesChanged(this);
}
