using Router.Sdk;

namespace Router.Routing;

/// <summary>A route the engine selected: where frames for a destination go next.</summary>
/// <remarks><see cref="Proof"/> is the origin's proof of <see cref="Seqno"/> (with the prefixes it announces); null only in simulations without signatures.</remarks>
internal readonly record struct SelectedRoute(RouterAddress Destination, RoutingNeighbour NextHop, ushort Metric, ushort Seqno, TimeSpan Updated, OriginProof? Proof = null);

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
///   interval; routes not refreshed expire; lost links retract their routes. A selected route
///   that has gone half its hold time without an update (its updates were lost) is asked for
///   again, with a seqno request for the seqno it has, so it does not expire while in use; so is
///   a route that becomes selected that old (RFC 8966 §3.8.2.3 suggests a route request for
///   this; this protocol has none, and the neighbour answers such a seqno request alike).</item>
/// </list>
/// Single-threaded and clock-free: the caller passes the time in, so the same code runs in the
/// router (one actor task) and in simulations of thousands of routers on a virtual clock.
/// Crypto-free too: every route carries its origin's <see cref="OriginProof"/> as an opaque
/// reference that the caller has already verified (<see cref="OriginVerifier"/>); the engine
/// stores it with the route and advertises the selected route with the proof it came with.
/// Its own route's proof comes from an <see cref="IOriginSigner"/>, asked once per own seqno
/// (none in simulations: routes then carry no proof). The engine remembers, per destination,
/// which neighbours it sent the advertised proof to in full, and marks later adverts of the
/// same proof to them <see cref="RouteAdvert.ProofByReference"/>; a neighbour that cannot
/// resolve a reference asks with a seqno request (<see cref="RequestProofs"/>), and the answer
/// carries the proof in full again.
/// </summary>
internal sealed class RoutingEngine
{
    private readonly RouterAddress _self;
    private readonly RoutingOptions _options;
    private readonly IRoutingOutput _output;
    private readonly IOriginSigner? _signer;
    private readonly Dictionary<RouterAddress, Destination> _destinations = [];
    private readonly List<RoutingNeighbour> _neighbours = [];
    private readonly HashSet<Destination> _dirty = [];
    private readonly Dictionary<(RouterAddress, ushort), TimeSpan> _forwardedRequests = [];
    private readonly Dictionary<(RoutingNeighbour, RouterAddress), TimeSpan> _proofRequests = [];
    private readonly ProofRecipients _ownProofRecipients = new();
    private readonly List<RouteAdvert> _scratch = [];
    private readonly ushort _helloCentiseconds;
    private readonly ushort _updateCentiseconds;
    private TimeSpan _nextUpdate;
    private TimeSpan _nextHousekeeping;
    private bool _selfDirty;
    private OriginProof? _ownProof;

    public RoutingEngine(RouterAddress self, RoutingOptions options, IRoutingOutput output, TimeSpan now, ushort initialSeqno = 0, IOriginSigner? signer = null)
    {
        _self = self;
        _options = options;
        _output = output;
        _signer = signer;
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

    /// <summary>Unfeasible updates for a selected route, ignored so the route stays in use while the origin is asked for a new seqno (<see cref="OnUpdate"/>).</summary>
    public long UnfeasibleIgnored { get; private set; }

    /// <summary>Seqno requests sent to refresh a selected route before it expires (<see cref="RefreshIfOld"/>).</summary>
    public long RefreshRequests { get; private set; }

    /// <summary>Seqno requests sent to ask a neighbour for a proof it referred to but this router lacked (<see cref="RequestProofs"/>).</summary>
    public long ProofRequests { get; private set; }

    /// <summary>Routes (not retractions) this router advertised with the proof in full, and by proof reference.</summary>
    public (long InFull, long ByReference) RoutesSent => (_routesSentInFull, _routesSentByReference);

    private long _routesSentInFull;
    private long _routesSentByReference;

    /// <summary>Times this router sent a neighbouring origin the newest proof of its own that the router held, because the origin offered an older seqno (it restarted).</summary>
    public long OwnProofsReturned { get; private set; }

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
                yield return new SelectedRoute(destination.Origin, route.Neighbour, route.Metric, route.Seqno, route.Updated, route.Proof);
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

        _ownProofRecipients.Forget(neighbour);
        foreach (var destination in _destinations.Values)
        {
            destination.ProofRecipients.Forget(neighbour);
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
            // the link came up may have reached it before it knew us, so send the table again —
            // with every proof in full, as it may have verified none of them.
            ForgetProofsSentTo(neighbour);
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
                // Someone remembers a newer seqno of ours (we restarted): move past it. Only a
                // route counts, not a retraction: a route's seqno was signed by us (the service
                // verified it), a retraction carries no proof and anyone could send one. A jump
                // of any size is safe here, unlike for a seqno request: we really did sign it.
                if (advert.Metric != Metric.Infinity && Seqno.IsNewer(advert.Seqno, OwnSeqno))
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

            if (destination.Selected?.Neighbour == neighbour && !destination.IsFeasible(advert.Seqno, advert.Metric))
            {
                // The selected route's neighbour now offers it at a metric our FD does not allow
                // (its own path got worse by more than our link to it costs). Taking the update
                // would leave the origin without a route until it raises its seqno, and every
                // packet meanwhile would be dropped; so, as RFC 8966 §3.5.4 allows, it is ignored
                // — as if it had been lost: the route stays as it was, not refreshed, and expires
                // unless a feasible update comes — and the origin is asked for a new seqno now.
                UnfeasibleIgnored++;
                RequestNewerSeqno(destination, now);
                continue;
            }

            destination.Set(neighbour, advert.Seqno, advert.Metric, advert.Proof, now, expires);
            Select(destination, now);
        }

        Flush(now);
    }

    /// <summary>
    /// What this router announces about itself changed (its prefixes, in the signer): moves to
    /// the next seqno, so the new statement is signed and every neighbour takes it as newer
    /// than the old one, and sends it to every neighbour now.
    /// </summary>
    public void OwnAnnouncementChanged(TimeSpan now)
    {
        OwnSeqno = unchecked((ushort)(OwnSeqno + 1));
        _ownProof = null;
        _selfDirty = true;
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
            // RFC 8966 §3.8.1.2: one more than our seqno, not the seqno asked for. Requests are
            // unsigned, so taking the requested value would let any neighbour push our seqno
            // forward by up to half the seqno space per request, and a few such jumps would make
            // our routes look older than routers remember them. A starved router only needs a
            // seqno newer than its feasibility distance, which is at most our own seqno: one
            // step is enough. (After a restart our seqno may be far behind what others remember;
            // that is repaired with our own signature, in OnUpdate and RequestNewerSeqno.)
            if (Seqno.IsNewer(request.Seqno, OwnSeqno))
            {
                OwnSeqno = unchecked((ushort)(OwnSeqno + 1));
            }

            // The asker may lack our proof (it asks for the seqno of a reference it could not
            // resolve): answer it in full.
            _ownProofRecipients.Forget(neighbour);
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
            // We can answer: our route is new enough. The answer carries the proof in full to the
            // asker, which may be asking because it could not resolve our reference to it.
            destination.ProofRecipients.Forget(neighbour);
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
    /// A neighbour sent routes by proof reference that this router could not resolve (the
    /// <see cref="OriginVerifier"/> holds no matching proof: the full proof was lost, or evicted).
    /// Asks that neighbour for each with a seqno request for the referenced seqno and hop count 1
    /// (not forwarded); the neighbour answers with the route and its proof in full
    /// (<see cref="OnSeqnoRequest"/>). At most once per hello interval per (neighbour, origin): the
    /// neighbour's next reference asks again, so a lost request or answer is repaired too.
    /// </summary>
    public void RequestProofs(RoutingNeighbour neighbour, IReadOnlyList<MissingProof> missing, TimeSpan now)
    {
        if (!_neighbours.Contains(neighbour))
        {
            Ignored++;
            return;
        }

        foreach (var (origin, seqno) in missing)
        {
            var key = (neighbour, origin);
            if (_proofRequests.TryGetValue(key, out var until) && until > now)
            {
                continue;
            }

            _proofRequests[key] = now + _options.HelloInterval;
            ProofRequests++;
            _output.SendSeqnoRequest(neighbour, new SeqnoRequest(origin, seqno, 1));
        }
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
                destination.SelectedPrefixBlock = null;
                _dirty.Add(destination);
                _output.RoutesChanged();
            }

            RequestNewerSeqno(destination, now);
            return;
        }

        var changed = current != best || current.Metric != destination.SelectedMetric || current.Seqno != destination.SelectedSeqno;
        destination.Selected = best;
        if (current != best)
        {
            // Taking over from a route that failed: this one may have gone long without an update.
            RefreshIfOld(destination, best, now);
        }

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

        // A new statement from the origin can change the prefixes it announces without changing
        // the path: the prefix table must hear of that too.
        var prefixes = best.Proof?.PrefixBlock;
        if (!ReferenceEquals(prefixes, destination.SelectedPrefixBlock)
            && !(prefixes ?? []).AsSpan().SequenceEqual(destination.SelectedPrefixBlock ?? []))
        {
            _output.RoutesChanged();
        }

        destination.SelectedPrefixBlock = prefixes;
    }

    /// <summary>
    /// Routes exist but none is feasible, or the selected route's neighbour offered it at an
    /// unfeasible metric (<see cref="OnUpdate"/>): ask the neighbours offering one for a newer seqno.
    /// Each neighbour is asked at most once per hello interval, unless what it offers changes
    /// (its answer then depends on a different route, so the earlier request may have died).
    /// <para>
    /// The origin itself offering a seqno older than our feasibility distance means it restarted
    /// with a seqno behind the one we advertised. A request would move it on by only one
    /// (<see cref="OnSeqnoRequest"/>), so instead we send it our route to it at the FD's seqno,
    /// with its own signature of that seqno (kept with the FD): it moves past it
    /// (<see cref="OnUpdate"/>), and its next route is feasible everywhere that remembers less.
    /// The origin never installs a route to itself, so this one update breaks no split horizon.
    /// In simulations routes carry no proof, so there the request is sent as before.
    /// </para>
    /// </summary>
    private void RequestNewerSeqno(Destination destination, TimeSpan now)
    {
        var request = new SeqnoRequest(destination.Origin, (ushort)(destination.FdSeqno + 1), 64);
        foreach (var route in destination.Routes)
        {
            if (route.Neighbour.Cost != Metric.Infinity && now >= route.NextRequest)
            {
                route.NextRequest = now + _options.HelloInterval;
                if (route.Neighbour.Address == destination.Origin && destination.FdProof is not null && Seqno.IsNewer(destination.FdSeqno, route.Seqno))
                {
                    OwnProofsReturned++;
                    ReadOnlySpan<RouteAdvert> own = [new RouteAdvert(destination.Origin, destination.FdSeqno, destination.FdMetric, destination.FdProof)];
                    _output.SendUpdate(route.Neighbour, _updateCentiseconds, own);
                    continue;
                }

                _requestsStarted++;
                _output.SendSeqnoRequest(route.Neighbour, request);
            }
        }
    }

    /// <summary>
    /// Asks the neighbour behind a selected route for it again once half its hold time passed
    /// without an update (lost on a lossy link), at most once per hello interval: a seqno
    /// request for the seqno the route has, hop count 1, which the neighbour answers with an
    /// update and no new seqno (<see cref="OnSeqnoRequest"/>). Without it a route taken over
    /// from a failed one, or kept over a lossy link, could expire in use and leave the
    /// destination unreachable until the neighbour's next periodic update.
    /// </summary>
    private void RefreshIfOld(Destination destination, Route route, TimeSpan now)
    {
        if (route.Neighbour.Cost == Metric.Infinity || now < route.NextRequest || route.Expires - now > (route.Expires - route.Updated) / 2)
        {
            return;
        }

        route.NextRequest = now + _options.HelloInterval;
        RefreshRequests++;
        _output.SendSeqnoRequest(route.Neighbour, new SeqnoRequest(destination.Origin, route.Seqno, 1));
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
            else if (destination.Selected is { } selected)
            {
                RefreshIfOld(destination, selected, now);
            }
            else
            {
                // Still starved: ask again (the last request or its answer may have been lost).
                RequestNewerSeqno(destination, now);
            }

            // Keep the feasibility distance for 3 minutes after this router last advertised a
            // route to the origin (its retraction), as Babel keeps its source table (RFC 8966
            // §3.2.5), so an old route cannot come back and form a loop. After that no neighbour
            // can still hold a route through us (routes expire after 3.5 update intervals), so the
            // FD goes even if unfeasible routes remain: otherwise an origin that restarted far
            // behind the FD, with no neighbour able to hand it its old signature, would stay
            // unreachable until seqno requests had moved it on one step at a time.
            if (destination.Selected is null && destination.RetractionsLeft == 0 && now - destination.LastChange > FdLifetime)
            {
                if (destination.Routes.Count == 0)
                {
                    (forget ??= []).Add(destination.Origin);
                }
                else if (destination.HasFd)
                {
                    destination.ForgetFd();
                    Select(destination, now);
                }
            }
        }

        foreach (var origin in forget ?? [])
        {
            _destinations.Remove(origin);
        }

        RemoveExpired(_forwardedRequests, now);
        RemoveExpired(_proofRequests, now);
    }

    private static readonly TimeSpan FdLifetime = TimeSpan.FromMinutes(3);

    private static void RemoveExpired<TKey>(Dictionary<TKey, TimeSpan> until, TimeSpan now)
        where TKey : notnull
    {
        if (until.Count == 0)
        {
            return;
        }

        foreach (var key in until.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList())
        {
            until.Remove(key);
        }
    }

    /// <summary>A neighbour that (re)starts holds none of our proofs: send it each in full next time.</summary>
    private void ForgetProofsSentTo(RoutingNeighbour neighbour)
    {
        _ownProofRecipients.Forget(neighbour);
        foreach (var destination in _destinations.Values)
        {
            destination.ProofRecipients.Forget(neighbour);
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
                _scratch.Add(OwnAdvert(neighbour));
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
        _scratch.Add(OwnAdvert(neighbour));
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

    /// <summary>
    /// This router's route to itself for <paramref name="neighbour"/>, with a proof of the current
    /// seqno (signed once per seqno): in full the first time that neighbour gets it, then by reference.
    /// </summary>
    private RouteAdvert OwnAdvert(RoutingNeighbour neighbour)
    {
        if (_signer is not null && _ownProof?.Seqno != OwnSeqno)
        {
            _ownProof = _signer.Sign(OwnSeqno);
        }

        return Counted(new RouteAdvert(_self, OwnSeqno, 0, _ownProof, _ownProofRecipients.SentBefore(neighbour, OwnSeqno, _ownProof)));
    }

    private RouteAdvert Counted(RouteAdvert advert)
    {
        if (advert.ProofByReference)
        {
            _routesSentByReference++;
        }
        else
        {
            _routesSentInFull++;
        }

        return advert;
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
        destination.RecordAdvertised(selected.Seqno, metric, selected.Proof);
        var byReference = destination.ProofRecipients.SentBefore(neighbour, selected.Seqno, selected.Proof);
        _scratch.Add(Counted(new RouteAdvert(destination.Origin, selected.Seqno, metric, selected.Proof, byReference)));
    }

    /// <summary>
    /// The neighbours that were sent one proof — of one origin's seqno — in full, so that later
    /// adverts of it to them go by reference. Sending counts as delivery: if the update is lost,
    /// the neighbour cannot resolve the next reference and asks (<see cref="RequestProofs"/>),
    /// which <see cref="Forget"/>s it here. In simulations proofs are null and only seqnos count.
    /// </summary>
    private sealed class ProofRecipients
    {
        private RoutingNeighbour[]? _sentTo;
        private int _count;
        private ushort _seqno;
        private OriginProof? _proof;

        /// <summary>
        /// Whether <paramref name="neighbour"/> was sent this proof in full already; if not, records
        /// that it is being sent now. Another seqno or proof object starts the record afresh (the
        /// verifier hands out one object per verified proof, so the same bytes are the same object
        /// unless evicted and verified again; then they are merely sent in full once more).
        /// </summary>
        public bool SentBefore(RoutingNeighbour neighbour, ushort seqno, OriginProof? proof)
        {
            if (_sentTo is null || seqno != _seqno || !ReferenceEquals(proof, _proof))
            {
                if (_sentTo is not null)
                {
                    Array.Clear(_sentTo, 0, _count);
                }

                _count = 0;
                (_seqno, _proof) = (seqno, proof);
            }
            else if (Array.IndexOf(_sentTo, neighbour, 0, _count) >= 0)
            {
                return true;
            }

            _sentTo ??= new RoutingNeighbour[4];
            if (_count == _sentTo.Length)
            {
                Array.Resize(ref _sentTo, _count * 2);
            }

            _sentTo[_count++] = neighbour;
            return false;
        }

        public void Forget(RoutingNeighbour neighbour)
        {
            if (_sentTo is null)
            {
                return;
            }

            var index = Array.IndexOf(_sentTo, neighbour, 0, _count);
            if (index >= 0)
            {
                _sentTo[index] = _sentTo[--_count];
                _sentTo[_count] = null!;
            }
        }
    }

    /// <summary>One route offered by one neighbour.</summary>
    private sealed class Route(RoutingNeighbour neighbour)
    {
        public RoutingNeighbour Neighbour { get; } = neighbour;

        public ushort Seqno { get; set; }

        public ushort Advertised { get; set; }

        /// <summary>The origin's proof of <see cref="Seqno"/> as this neighbour sent it; passed on unchanged.</summary>
        public OriginProof? Proof { get; set; }

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

        /// <summary>The prefix block of the selected route's proof when it was last selected (to notice announcement changes).</summary>
        public byte[]? SelectedPrefixBlock { get; set; }

        public bool HasFd { get; private set; }

        public ushort FdSeqno { get; private set; }

        public ushort FdMetric { get; private set; }

        /// <summary>The origin's proof of <see cref="FdSeqno"/>, as advertised; handed back to the origin if it restarts behind it.</summary>
        public OriginProof? FdProof { get; private set; }

        /// <summary>Who was sent the proof of the selected route in full.</summary>
        public ProofRecipients ProofRecipients { get; } = new();

        public int RetractionsLeft { get; set; }

        public TimeSpan LastChange { get; set; }

        public bool IsFeasible(ushort seqno, ushort advertised) =>
            advertised != Metric.Infinity &&
            (!HasFd || Seqno.IsNewer(seqno, FdSeqno) || (seqno == FdSeqno && advertised < FdMetric));

        public void RecordAdvertised(ushort seqno, ushort metric, OriginProof? proof)
        {
            if (!HasFd || Seqno.IsNewer(seqno, FdSeqno))
            {
                (HasFd, FdSeqno, FdMetric, FdProof) = (true, seqno, metric, proof);
            }
            else if (seqno == FdSeqno && metric < FdMetric)
            {
                FdMetric = metric;
            }
        }

        public void ForgetFd() => (HasFd, FdProof) = (false, null);

        public bool Has(RoutingNeighbour neighbour) => Routes.Exists(r => r.Neighbour == neighbour);

        public void Set(RoutingNeighbour neighbour, ushort seqno, ushort advertised, OriginProof? proof, TimeSpan now, TimeSpan expires)
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
            route.Proof = proof;
            route.Updated = now;
            route.Expires = expires;
            RetractionsLeft = 0;
        }

        public bool Remove(RoutingNeighbour neighbour) => Routes.RemoveAll(r => r.Neighbour == neighbour) > 0;

        public bool RemoveExpired(TimeSpan now) => Routes.RemoveAll(r => r.Expires <= now) > 0;
    }
}
