using Router.Routing;
using Router.Sdk;

namespace Router.Simulation;

/// <summary>
/// One simulated router: a real <see cref="RoutingEngine"/> whose messages go over simulated links.
/// Routes carry no proofs (no crypto in simulations), but which proofs a router holds is modelled
/// as the <see cref="OriginVerifier"/> would hold them: the last two (origin, seqno) received in
/// full per origin. A route by proof reference to anything else is dropped and asked for
/// (<see cref="RoutingEngine.RequestProofs"/>), as the router does, so lost full proofs and their
/// repair cost what they cost in the router.
/// </summary>
public sealed class SimRouter : IRoutingOutput
{
    private readonly MeshSimulation _simulation;
    private readonly Dictionary<int, RoutingNeighbour> _neighbours = [];
    private readonly List<RouteAdvert> _received = [];
    private readonly List<MissingProof> _missing = [];
    private readonly Dictionary<RouterAddress, (ushort Latest, ushort Previous)> _proofs = [];
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

    /// <summary>Routes by proof reference this router dropped because it held no such proof (the router's <c>unknownProofReference</c>).</summary>
    public long UnknownProofReferences { get; private set; }

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
        // Counted at the size the router sends: every route but a retraction as a signed route
        // entry or a route by proof reference, as the engine marked it, although simulated routes
        // carry no proof (the simulator runs the engine without crypto).
        var copy = routes.ToArray();
        _simulation.Transmit(Index, (int)to.Link, UpdateMessage.Size(copy), target =>
        {
            if (target.From(Index) is { } neighbour)
            {
                target.Receive(neighbour, intervalCentiseconds, copy);
            }
        });
    }

    /// <summary>What the router's verifier and engine do with an update (<c>RoutingService.Handle</c>), proofs modelled by seqno.</summary>
    private void Receive(RoutingNeighbour from, ushort intervalCentiseconds, RouteAdvert[] routes)
    {
        if (!_started)
        {
            // The engine does not know the neighbour yet and ignores the update; the router's
            // service would not have verified (or cached) anything from it either.
            Engine.OnUpdate(from, intervalCentiseconds, routes, _simulation.Now);
            return;
        }

        _received.Clear();
        _missing.Clear();
        foreach (var route in routes)
        {
            if (route.Metric == Metric.Infinity)
            {
                _received.Add(route);
            }
            else if (!route.ProofByReference)
            {
                if (!_proofs.TryGetValue(route.Origin, out var held))
                {
                    _proofs[route.Origin] = (route.Seqno, route.Seqno);
                }
                else if (held.Latest != route.Seqno && held.Previous != route.Seqno)
                {
                    _proofs[route.Origin] = (route.Seqno, held.Latest);
                }

                _received.Add(route);
            }
            else if (_proofs.TryGetValue(route.Origin, out var held) && (held.Latest == route.Seqno || held.Previous == route.Seqno))
            {
                _received.Add(route);
            }
            else
            {
                UnknownProofReferences++;
                _missing.Add(new MissingProof(route.Origin, route.Seqno));
            }
        }

        Engine.OnUpdate(from, intervalCentiseconds, _received, _simulation.Now);
        if (_missing.Count > 0)
        {
            Engine.RequestProofs(from, _missing, _simulation.Now);
        }
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
