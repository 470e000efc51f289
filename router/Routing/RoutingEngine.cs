using Router.Sdk;

namespace Router.Routing;

/// <summary>A route the engine selected: where frames for a destination go next.</summary>
internal readonly record struct SelectedRoute(RouterAddress Destination, RoutingNeighbour NextHop, ushort Metric, ushort Seqno, TimeSpan Updated);

/// <summary>
/// The routing protocol: a distance-vector protocol in the style of Babel (RFC 8966).
/// <list type="bullet">
/// <item>Hellos to each neighbour measure the link (loss, RTT) into a cost (<see cref="LinkQuality"/>).</item>
/// <item>Updates carry (origin, seqno, metric); a route's metric is the neighbour's advertised
///   metric plus the link cost; the smallest feasible metric wins, with hysteresis.</item>
/// <item>Feasibility condition: a route is usable only if its advertised (seqno, metric) is
///   strictly better than this router's feasibility distance for the origin — the best
///   (newest seqno, then lowest metric) it has itself advertised. This keeps the next-hop
///   graph loop-free at every instant, even while routes change.</item>
/// <item>When only unfeasible routes remain, a seqno request asks the origin for a newer seqno,
///   which makes routes feasible again.</item>
/// <item>Changes are sent at once (triggered updates); the whole table is re-sent every update
///   interval; routes not refreshed expire; lost links retract their routes.</item>
/// </list>
/// Single-threaded and clock-free: the caller passes the time in, so the same code runs in the
/// router (one actor task) and in simulations of thousands of routers on a virtual clock.
/// </summary>
internal sealed class RoutingEngine
{
    private readonly RouterAddress _self;
    private readonly RoutingOptions _options;
    private readonly IRoutingOutput _output;
    private readonly Dictionary<RouterAddress, Destination> _destinations = [];
    private readonly List<RoutingNeighbour> _neighbours = [];
    private readonly HashSet<Destination> _dirty = [];
    private readonly Dictionary<(RouterAddress, ushort), TimeSpan> _forwardedRequests = [];
    private readonly List<RouteAdvert> _scratch = [];
    private readonly ushort _helloCentiseconds;
    private readonly ushort _updateCentiseconds;
    private TimeSpan _nextUpdate;
    private TimeSpan _nextHousekeeping;
    private bool _selfDirty;

    public RoutingEngine(RouterAddress self, RoutingOptions options, IRoutingOutput output, TimeSpan now, ushort initialSeqno = 0)
    {
        _self = self;
        _options = options;
        _output = output;
        OwnSeqno = initialSeqno;
        _helloCentiseconds = (ushort)Math.Clamp(options.HelloInterval.TotalMilliseconds / 10, 1, ushort.MaxValue);
        _updateCentiseconds = (ushort)Math.Clamp(options.UpdateInterval.TotalMilliseconds / 10, 1, ushort.MaxValue);
        _nextUpdate = now + options.UpdateInterval;
        _nextHousekeeping = now;
    }

    public RouterAddress Self => _self;

    public ushort OwnSeqno { get; private set; }

    public IReadOnlyList<RoutingNeighbour> Neighbours => _neighbours;

    /// <summary>Updates for new destinations ignored because the table was full.</summary>
    public long RouteLimitHits { get; private set; }

    /// <summary>Malformed or unusable routing messages ignored.</summary>
    public long Ignored { get; set; }

    public int DestinationCount => _destinations.Count;

    /// <summary>Seqno requests this router started, forwarded, and received.</summary>
    public (long Started, long Forwarded, long Received) SeqnoRequests => (_requestsStarted, _requestsForwarded, _requestsReceived);

    private long _requestsStarted;
    private long _requestsForwarded;
    private long _requestsReceived;

    /// <summary>The selected route to every reachable destination.</summary>
    public IEnumerable<SelectedRoute> SelectedRoutes()
    {
        foreach (var destination in _destinations.Values)
        {
            if (destination.Selected is { } route)
            {
                yield return new SelectedRoute(destination.Origin, route.Neighbour, route.Metric, route.Seqno, route.Updated);
            }
        }
    }

    /// <summary>The next hop towards <paramref name="destination"/>, or null.</summary>
    public RoutingNeighbour? NextHop(RouterAddress destination) =>
        _destinations.TryGetValue(destination, out var d) ? d.Selected?.Neighbour : null;

    /// <summary>The engine's view of one destination, for diagnostics and tests.</summary>
    public string Describe(RouterAddress destination)
    {
        if (!_destinations.TryGetValue(destination, out var d))
        {
            return "unknown";
        }

        var routes = string.Join(", ", d.Routes.Select(r => $"via {r.Neighbour} seqno {r.Seqno} adv {r.Advertised} cost {r.Neighbour.Cost}{(d.IsFeasible(r.Seqno, r.Advertised) ? "" : " unfeasible")}"));
        return $"selected {(d.Selected is { } s ? $"via {s.Neighbour} seqno {s.Seqno} metric {s.Metric}" : "none")}; fd {(d.HasFd ? $"{d.FdSeqno}/{d.FdMetric}" : "none")}; routes: {routes}";
    }

    public void NeighbourUp(RoutingNeighbour neighbour, TimeSpan now)
    {
        if (_neighbours.Contains(neighbour))
        {
            return;
        }

        _neighbours.Add(neighbour);
        neighbour.NextHello = now;
        SendHello(neighbour, now);
        SendFullUpdate(neighbour);
    }

    public void NeighbourDown(RoutingNeighbour neighbour, TimeSpan now)
    {
        if (!_neighbours.Remove(neighbour))
        {
            return;
        }

        foreach (var destination in _destinations.Values)
        {
            if (destination.Remove(neighbour))
            {
                Select(destination, now);
            }
        }

        Flush(now);
    }

    public void OnHello(RoutingNeighbour neighbour, in Hello hello, TimeSpan now)
    {
        if (!_neighbours.Contains(neighbour))
        {
            Ignored++;
            return;
        }

        if (neighbour.Quality.OnHello(hello, now, Micros(now)))
        {
            // First hello from this neighbour (or since it restarted): the full update sent when
            // the link came up may have reached it before it knew us, so send the table again.
            SendFullUpdate(neighbour);
        }

        RefreshCost(neighbour, now);
        Flush(now);
    }

    public void OnUpdate(RoutingNeighbour neighbour, ushort intervalCentiseconds, IReadOnlyList<RouteAdvert> routes, TimeSpan now)
    {
        if (!_neighbours.Contains(neighbour))
        {
            Ignored++;
            return;
        }

        var expires = now + TimeSpan.FromMilliseconds(intervalCentiseconds * 10.0 * _options.RouteExpiryIntervals);
        foreach (var advert in routes)
        {
            if (advert.Origin == _self)
            {
                // Someone remembers a newer seqno of ours (we restarted): move past it.
                if (Seqno.IsNewer(advert.Seqno, OwnSeqno))
                {
                    OwnSeqno = (ushort)(advert.Seqno + 1);
                    _selfDirty = true;
                }

                continue;
            }

            if (!_destinations.TryGetValue(advert.Origin, out var destination))
            {
                if (advert.Metric == Metric.Infinity)
                {
                    continue;
                }

                if (_destinations.Count >= _options.MaxRoutes)
                {
                    RouteLimitHits++;
                    continue;
                }

                destination = new Destination(advert.Origin);
                _destinations.Add(advert.Origin, destination);
            }

            if (advert.Metric == Metric.Infinity)
            {
                if (destination.Remove(neighbour))
                {
                    Select(destination, now);
                }

                continue;
            }

            destination.Set(neighbour, advert.Seqno, advert.Metric, now, expires);
            Select(destination, now);
        }

        Flush(now);
    }

    public void OnSeqnoRequest(RoutingNeighbour neighbour, in SeqnoRequest request, TimeSpan now)
    {
        if (!_neighbours.Contains(neighbour))
        {
            Ignored++;
            return;
        }

        _requestsReceived++;
        if (request.Origin == _self)
        {
            if (Seqno.IsNewer(request.Seqno, OwnSeqno))
            {
                OwnSeqno = request.Seqno;
            }

            _selfDirty = true;
            Flush(now);
            return;
        }

        if (!_destinations.TryGetValue(request.Origin, out var destination))
        {
            return;
        }

        if (destination.Selected is { } selected && Seqno.IsNewerOrEqual(selected.Seqno, request.Seqno))
        {
            // We can answer: our route is new enough.
            _dirty.Add(destination);
        }
        else if (request.HopCount > 1 && ForwardTarget(destination, neighbour) is { } next)
        {
            var key = (request.Origin, request.Seqno);
            if (!_forwardedRequests.TryGetValue(key, out var until) || until <= now)
            {
                _forwardedRequests[key] = now + _options.HelloInterval;
                _requestsForwarded++;
                _output.SendSeqnoRequest(next, new SeqnoRequest(request.Origin, request.Seqno, (byte)(request.HopCount - 1)));
            }
        }

        Flush(now);
    }

    /// <summary>
    /// Where to pass on a seqno request we cannot answer: the selected next hop, or else the
    /// neighbour offering the best route, feasible or not (RFC 8966 §3.8.1.2), never back to the asker.
    /// </summary>
    private static RoutingNeighbour? ForwardTarget(Destination destination, RoutingNeighbour asker)
    {
        if (destination.Selected is { } selected)
        {
            return selected.Neighbour == asker ? null : selected.Neighbour;
        }

        Route? best = null;
        foreach (var route in destination.Routes)
        {
            if (route.Neighbour != asker && route.Neighbour.Cost != Metric.Infinity && (best is null || route.Metric < best.Metric))
            {
                best = route;
            }
        }

        return best?.Neighbour;
    }

    /// <summary>Runs the timers due at <paramref name="now"/>; returns when to call again at the latest.</summary>
    public TimeSpan Tick(TimeSpan now)
    {
        var next = now + _options.HelloInterval;
        foreach (var neighbour in _neighbours)
        {
            neighbour.Quality.CheckMisses(now);
            RefreshCost(neighbour, now);
            if (neighbour.NextHello <= now)
            {
                SendHello(neighbour, now);
            }

            next = Min(next, neighbour.NextHello);
            next = Min(next, neighbour.Quality.MissDeadline);
        }

        if (now >= _nextUpdate)
        {
            _nextUpdate = now + _options.UpdateInterval;
            foreach (var neighbour in _neighbours)
            {
                SendFullUpdate(neighbour);
            }
        }

        if (now >= _nextHousekeeping)
        {
            _nextHousekeeping = now + _options.HelloInterval;
            Expire(now);
        }

        Flush(now);
        next = Min(next, _nextUpdate);
        return Min(next, _nextHousekeeping);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static uint Micros(TimeSpan now)
    {
        // Zero means "no timestamp" on the wire.
        var micros = unchecked((uint)(now.Ticks / 10));
        return micros == 0 ? 1 : micros;
    }

    private void SendHello(RoutingNeighbour neighbour, TimeSpan now)
    {
        var quality = neighbour.Quality;
        var echo = quality.HasHeard ? quality.LastTimestamp : 0;
        var delay = quality.HasHeard ? (uint)Math.Min(uint.MaxValue, (now - quality.LastTimestampAt).Ticks / 10) : 0;
        _output.SendHello(neighbour, new Hello(neighbour.HelloSeqno++, _helloCentiseconds, Micros(now), echo, delay));
        neighbour.NextHello = now + _options.HelloInterval;
    }

    /// <summary>Re-selects routes through a neighbour whose cost moved by more than ~6 %, or to or from infinity.</summary>
    private void RefreshCost(RoutingNeighbour neighbour, TimeSpan now)
    {
        var cost = neighbour.Quality.Cost(_options);
        var old = neighbour.Cost;
        if (cost == old)
        {
            return;
        }

        var significant = cost == Metric.Infinity || old == Metric.Infinity || Math.Abs(cost - old) * 16 > old;
        if (!significant)
        {
            return;
        }

        neighbour.Cost = cost;
        foreach (var destination in _destinations.Values)
        {
            if (destination.Has(neighbour))
            {
                Select(destination, now);
            }
        }
    }

    private void Select(Destination destination, TimeSpan now)
    {
        Route? best = null;
        foreach (var route in destination.Routes)
        {
            if (route.Neighbour.Cost == Metric.Infinity || !destination.IsFeasible(route.Seqno, route.Advertised))
            {
                continue;
            }

            if (best is null || route.Metric < best.Metric)
            {
                best = route;
            }
        }

        var current = destination.Selected;
        if (current is not null && best is not null && best != current && destination.Routes.Contains(current)
            && current.Neighbour.Cost != Metric.Infinity && destination.IsFeasible(current.Seqno, current.Advertised)
            && best.Metric + Math.Max(1, current.Metric / 16) >= current.Metric)
        {
            best = current; // not enough better to switch: avoid flapping between near-equal paths
        }

        if (best is null)
        {
            if (current is not null)
            {
                destination.Selected = null;
                _dirty.Add(destination);
                _output.RoutesChanged();
            }

            RequestSeqnoIfStarved(destination, now);
            return;
        }

        var changed = current != best || current.Metric != destination.SelectedMetric || current.Seqno != destination.SelectedSeqno;
        destination.Selected = best;
        if (changed)
        {
            var metricMoved = current is null || current != best || best.Seqno != destination.SelectedSeqno
                || Math.Abs(best.Metric - destination.SelectedMetric) * 8 > destination.SelectedMetric;
            destination.SelectedMetric = best.Metric;
            destination.SelectedSeqno = best.Seqno;
            if (metricMoved)
            {
                _dirty.Add(destination);
            }

            if (current != best)
            {
                _output.RoutesChanged();
            }
        }
    }

    /// <summary>
    /// Routes exist but none is feasible: ask the neighbours offering one for a newer seqno.
    /// Each neighbour is asked at most once per hello interval, unless what it offers changes
    /// (its answer then depends on a different route, so the earlier request may have died).
    /// </summary>
    private void RequestSeqnoIfStarved(Destination destination, TimeSpan now)
    {
        var request = new SeqnoRequest(destination.Origin, (ushort)(destination.FdSeqno + 1), 64);
        foreach (var route in destination.Routes)
        {
            if (route.Neighbour.Cost != Metric.Infinity && now >= route.NextRequest)
            {
                route.NextRequest = now + _options.HelloInterval;
                _requestsStarted++;
                _output.SendSeqnoRequest(route.Neighbour, request);
            }
        }
    }

    private void Expire(TimeSpan now)
    {
        List<RouterAddress>? forget = null;
        foreach (var destination in _destinations.Values)
        {
            if (destination.RemoveExpired(now))
            {
                Select(destination, now);
            }
            else if (destination.Selected is null)
            {
                // Still starved: ask again (the last request or its answer may have been lost).
                RequestSeqnoIfStarved(destination, now);
            }

            // Keep the feasibility distance for a while after the last route went (as Babel
            // keeps its source table), so an old route cannot come back and form a loop.
            if (destination.Routes.Count == 0 && destination.Selected is null && destination.RetractionsLeft == 0
                && now - destination.LastChange > TimeSpan.FromMinutes(3))
            {
                (forget ??= []).Add(destination.Origin);
            }
        }

        foreach (var origin in forget ?? [])
        {
            _destinations.Remove(origin);
        }

        if (_forwardedRequests.Count > 0)
        {
            foreach (var key in _forwardedRequests.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList())
            {
                _forwardedRequests.Remove(key);
            }
        }
    }

    /// <summary>Sends the triggered updates collected while handling one input.</summary>
    private void Flush(TimeSpan now)
    {
        if (_dirty.Count == 0 && !_selfDirty)
        {
            return;
        }

        foreach (var neighbour in _neighbours)
        {
            _scratch.Clear();
            if (_selfDirty)
            {
                _scratch.Add(new RouteAdvert(_self, OwnSeqno, 0));
            }

            foreach (var destination in _dirty)
            {
                AddAdvert(destination, neighbour);
            }

            if (_scratch.Count > 0)
            {
                _output.SendUpdate(neighbour, _updateCentiseconds, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_scratch));
            }
        }

        foreach (var destination in _dirty)
        {
            destination.LastChange = now;
            if (destination.Selected is null && destination.RetractionsLeft == 0)
            {
                destination.RetractionsLeft = 3;
            }
        }

        _dirty.Clear();
        _selfDirty = false;
    }

    private void SendFullUpdate(RoutingNeighbour neighbour)
    {
        _scratch.Clear();
        _scratch.Add(new RouteAdvert(_self, OwnSeqno, 0));
        foreach (var destination in _destinations.Values)
        {
            AddAdvert(destination, neighbour);
            if (destination.Selected is null && destination.RetractionsLeft > 0 && neighbour == _neighbours[^1])
            {
                destination.RetractionsLeft--;
            }
        }

        _output.SendUpdate(neighbour, _updateCentiseconds, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_scratch));
    }

    /// <summary>Adds what this router says about a destination to a neighbour, and records the feasibility distance.</summary>
    private void AddAdvert(Destination destination, RoutingNeighbour neighbour)
    {
        if (destination.Selected is not { } selected)
        {
            if (destination.RetractionsLeft > 0 || _dirty.Contains(destination))
            {
                _scratch.Add(new RouteAdvert(destination.Origin, destination.FdSeqno, Metric.Infinity));
            }

            return;
        }

        if (selected.Neighbour == neighbour)
        {
            return; // split horizon: never offer a route back to its next hop
        }

        var metric = selected.Metric;
        destination.RecordAdvertised(selected.Seqno, metric);
        _scratch.Add(new RouteAdvert(destination.Origin, selected.Seqno, metric));
    }

    /// <summary>One route offered by one neighbour.</summary>
    private sealed class Route(RoutingNeighbour neighbour)
    {
        public RoutingNeighbour Neighbour { get; } = neighbour;

        public ushort Seqno { get; set; }

        public ushort Advertised { get; set; }

        public TimeSpan Updated { get; set; }

        public TimeSpan Expires { get; set; }

        /// <summary>When this neighbour may next be sent a seqno request for this destination.</summary>
        public TimeSpan NextRequest { get; set; }

        public ushort Metric => Routing.Metric.Add(Advertised, Neighbour.Cost);
    }

    /// <summary>Everything known about one origin: offered routes, the selection, the feasibility distance.</summary>
    private sealed class Destination(RouterAddress origin)
    {
        public RouterAddress Origin { get; } = origin;

        public List<Route> Routes { get; } = [];

        public Route? Selected { get; set; }

        public ushort SelectedMetric { get; set; }

        public ushort SelectedSeqno { get; set; }

        public bool HasFd { get; private set; }

        public ushort FdSeqno { get; private set; }

        public ushort FdMetric { get; private set; }

        public int RetractionsLeft { get; set; }

        public TimeSpan LastChange { get; set; }

        public bool IsFeasible(ushort seqno, ushort advertised) =>
            advertised != Metric.Infinity &&
            (!HasFd || Seqno.IsNewer(seqno, FdSeqno) || (seqno == FdSeqno && advertised < FdMetric));

        public void RecordAdvertised(ushort seqno, ushort metric)
        {
            if (!HasFd || Seqno.IsNewer(seqno, FdSeqno))
            {
                (HasFd, FdSeqno, FdMetric) = (true, seqno, metric);
            }
            else if (seqno == FdSeqno && metric < FdMetric)
            {
                FdMetric = metric;
            }
        }

        public bool Has(RoutingNeighbour neighbour) => Routes.Exists(r => r.Neighbour == neighbour);

        public void Set(RoutingNeighbour neighbour, ushort seqno, ushort advertised, TimeSpan now, TimeSpan expires)
        {
            var route = Routes.Find(r => r.Neighbour == neighbour);
            if (route is null)
            {
                route = new Route(neighbour);
                Routes.Add(route);
            }

            if (route.Seqno != seqno || route.Advertised != advertised)
            {
                route.NextRequest = TimeSpan.Zero;
            }

            route.Seqno = seqno;
            route.Advertised = advertised;
            route.Updated = now;
            route.Expires = expires;
            RetractionsLeft = 0;
        }

        public bool Remove(RoutingNeighbour neighbour) => Routes.RemoveAll(r => r.Neighbour == neighbour) > 0;

        public bool RemoveExpired(TimeSpan now) => Routes.RemoveAll(r => r.Expires <= now) > 0;
    }
}
