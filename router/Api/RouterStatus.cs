using Router.Hosting;
using Router.Identity;
using Router.Overlay;
using Router.Routing;
using Router.Sdk;
using Router.Security.Links;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Api;

/// <summary>Builds the status and peer documents from the core's live state.</summary>
internal sealed class RouterStatus
{
    private readonly RouterIdentity _identity;
    private readonly NetmodHost _netmods;
    private readonly NeighbourTable _neighbours;
    private readonly RouteTable _routes;
    private readonly SwitchCounters _counters;
    private readonly LocalDelivery _delivery;
    private readonly Inbox _inbox;
    private readonly RoutingService _routing;
    private readonly LinkTable _links;
    private readonly LinkSecurityCounters _linkCounters;
    private readonly SessionCounters _sessionCounters;
    private readonly PrefixTable _prefixes;
    private readonly PacketGateway _gateway;
    private readonly TimeProvider _time;
    private readonly DateTimeOffset _startedAt;

    public RouterStatus(
        RouterIdentity identity,
        NetmodHost netmods,
        NeighbourTable neighbours,
        RouteTable routes,
        SwitchCounters counters,
        LocalDelivery delivery,
        Inbox inbox,
        RoutingService routing,
        LinkTable links,
        LinkSecurityCounters linkCounters,
        SessionCounters sessionCounters,
        PrefixTable prefixes,
        PacketGateway gateway,
        TimeProvider time)
    {
        _prefixes = prefixes;
        _gateway = gateway;
        _sessionCounters = sessionCounters;
        _links = links;
        _linkCounters = linkCounters;
        _identity = identity;
        _netmods = netmods;
        _neighbours = neighbours;
        _routes = routes;
        _counters = counters;
        _delivery = delivery;
        _inbox = inbox;
        _routing = routing;
        _time = time;
        _startedAt = time.GetUtcNow();
    }

    public static string Version { get; } =
        typeof(RouterStatus).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public StatusResponse Status()
    {
        var netmods = _netmods.Instances
            .Select(i => new NetmodInfo(
                i.Name,
                i.Plugin.AssemblyVersion.ToString(3),
                i.State.ToString().ToLowerInvariant(),
                i.MaxFrameSize,
                i.Plugin.AssemblyPath,
                i.Error,
                i.Netmod.GetFeature<INetmodCountersFeature>()?.GetCounters().ToDictionary(kv => kv.Key, kv => kv.Value),
                Traffic(i.Traffic)!,
                Enum.GetValues<DropReason>().ToDictionary(CamelCase, i.Drops)))
            .ToList();
        var drops = _counters.DropSnapshot().ToDictionary(kv => CamelCase(kv.Key), kv => kv.Value);
        var counters = new CounterInfo(
            _counters.Received,
            _counters.Forwarded,
            _counters.DeliveredLocally,
            drops,
            _delivery.Completed,
            _inbox.Dropped,
            _inbox.Waiting,
            _delivery.Pending,
            _delivery.BufferedBytes,
            _delivery.TimedOut,
            _delivery.OverLimit,
            _delivery.OverSourceLimit,
            _routes.Count,
            SecurityCounters());
        var now = _time.GetUtcNow();
        return new StatusResponse(
            _identity.Address.ToString(),
            Version,
            SdkVersion.Current.ToString(2),
            _startedAt,
            Math.Round((now - _startedAt).TotalSeconds, 1),
            netmods,
            Peers(),
            counters,
            Overlay());
    }

    /// <summary>The IP overlay: address, interface, prefixes (conflicts separately) and packet counters.</summary>
    private OverlayInfo Overlay()
    {
        var snapshot = _prefixes.Current;
        static PrefixInfo Info(PrefixEntry e) => new(e.Prefix.ToString(), e.Owner.ToString(), [.. e.Claimants.Select(c => c.ToString())]);
        var c = _gateway.Counters;
        var counters = new Dictionary<string, long>
        {
            ["packetsSent"] = c.Sent.Packets,
            ["bytesSent"] = c.Sent.Bytes,
            ["batchesSent"] = c.Sent.Batches,
            ["packetsReceived"] = c.Received.Packets,
            ["bytesReceived"] = c.Received.Bytes,
            ["batchesReceived"] = c.Received.Batches,
            ["malformedPrefixBlocks"] = _prefixes.MalformedPrefixBlocks,
            ["unreachableSent"] = c.UnreachableSent,
        };
        foreach (var reason in Enum.GetValues<PacketDrop>())
        {
            var name = reason.ToString();
            counters["dropped" + name] = c.Drops(reason);
        }

        return new OverlayInfo(
            OverlayAddress.For(_identity.Address).ToString(),
            _gateway.Interface?.Name,
            [.. snapshot.Entries.Select(Info)],
            [.. snapshot.Conflicts.Select(Info)],
            counters);
    }

    /// <summary>Every security event and limit hit, by layer (links, routes, sessions) and name.</summary>
    public Dictionary<string, IReadOnlyDictionary<string, long>> SecurityCounters() => new()
    {
        ["links"] = _linkCounters.Snapshot(),
        ["routes"] = new Dictionary<string, long>
        {
            ["unsignedRoutes"] = _routing.UnsignedRoutes,
            ["badOriginKeys"] = _routing.BadOriginKeys,
            ["badOriginSignatures"] = _routing.BadOriginSignatures,
            ["unknownProofReferences"] = _routing.UnknownProofReferences,
            ["originVerifications"] = _routing.OriginVerifications,
            ["originCacheHits"] = _routing.OriginCacheHits,
            ["originSignatures"] = _routing.OriginSignatures,
            ["routeLimitHits"] = _routing.RouteLimitHits,
            ["rejectedControlMessages"] = _routing.Rejected,
        },
        ["sessions"] = _sessionCounters.Snapshot(),
    };

    /// <summary>The selected routes, nearest first.</summary>
    public IReadOnlyList<RouteInfo> Routes()
    {
        var now = _routing.Uptime;
        return _routing.SelectedRoutes
            .OrderBy(r => r.Metric)
            .Select(r =>
            {
                var hop = (NextHop)r.NextHop.Link;
                var prefixes = new List<System.Net.IPNetwork>();
                if (r.Proof is { } proof)
                {
                    AnnouncedPrefixes.TryDecode(proof.PrefixBlock, prefixes);
                }

                return new RouteInfo(
                    r.Destination.ToString(),
                    hop.Address.ToString(),
                    hop.Netmod.Name,
                    r.Metric,
                    r.Seqno,
                    Math.Round((now - r.Updated).TotalSeconds, 1),
                    OverlayAddress.For(r.Destination).ToString(),
                    [.. prefixes.Select(p => p.ToString())]);
            })
            .ToList();
    }

    /// <summary>
    /// Peers of every running netmod: what the netmod reports when it can (configured peers not
    /// yet reached included), otherwise its live neighbours.
    /// </summary>
    public IReadOnlyList<PeerInfo> Peers()
    {
        var peers = new List<PeerInfo>();
        var neighbours = _neighbours.Snapshot();
        foreach (var instance in _netmods.Instances.Where(i => i.State == NetmodState.Running))
        {
            if (instance.Netmod.GetFeature<IPeerStatusFeature>() is { } feature)
            {
                peers.AddRange(feature.GetPeers().Select(p => new PeerInfo(
                    p.Address.IsNone ? null : p.Address.ToString(),
                    instance.Name,
                    p.State.ToString().ToLowerInvariant(),
                    p.Endpoint,
                    p.Inbound,
                    p.Since,
                    p.LastError,
                    p.Address.IsNone ? null : _links.StateOf(instance, p.Address),
                    p.Address.IsNone ? null : Traffic(instance, neighbours, p.Address))));
            }
            else
            {
                peers.AddRange(neighbours.Where(n => n.Netmod == instance).Select(n => new PeerInfo(
                    n.Address.IsNone ? null : n.Address.ToString(),
                    instance.Name,
                    "up",
                    n.RemoteEndpoint,
                    false,
                    n.Since,
                    null,
                    _links.StateOf(instance, n.Address),
                    Traffic(instance.TrafficWith(n.Id)))));
            }
        }

        return peers;
    }

    /// <summary>The traffic with a peer over its live link on <paramref name="instance"/>; null when it has none.</summary>
    private static TrafficInfo? Traffic(NetmodInstance instance, IReadOnlyList<Neighbour> neighbours, RouterAddress address)
    {
        foreach (var n in neighbours)
        {
            if (n.Netmod == instance && n.Address == address)
            {
                return Traffic(instance.TrafficWith(n.Id));
            }
        }

        return null;
    }

    private static TrafficInfo? Traffic(TrafficCounters? c) =>
        c is null ? null : new TrafficInfo(c.FramesIn, c.BytesIn, c.FramesOut, c.BytesOut);

    private static string CamelCase(DropReason reason)
    {
        var name = reason.ToString();
        return char.ToLowerInvariant(name[0]) + name[1..];
    }
}
