using System.Diagnostics.Metrics;
using Router.Api;
using Router.Hosting;
using Router.Identity;
using Router.Overlay;
using Router.Routing;
using Router.Sdk;
using Router.Security.Links;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Metrics;

/// <summary>
/// The router's meter, <c>Router</c>: observable instruments whose callbacks read the counters
/// the core already keeps for <c>router status</c> (switch, netmods, links, sessions,
/// reassembly, overlay). Nothing is added to the frame path; values are read when a scrape
/// (<see cref="MetricsEndpoint"/>) or a listener such as <c>dotnet-counters</c> asks.
/// Names, units and tags are listed in docs/operations.md.
/// </summary>
internal sealed class RouterMetrics : IDisposable
{
    public const string MeterName = "Router";

    private readonly SwitchCounters _switch;
    private readonly NetmodHost _netmods;
    private readonly RouteTable _routes;
    private readonly PrefixTable _prefixes;
    private readonly LocalDelivery _delivery;
    private readonly Inbox _inbox;
    private readonly RoutingService _routing;
    private readonly LinkSecurityCounters _links;
    private readonly SessionCounters _sessions;
    private readonly OverlayCounters _overlay;
    private readonly RouterStatus _status;
    private readonly RouterIdentity _identity;
    private readonly TimeProvider _time;
    private readonly long _startedAt;

    public RouterMetrics(
        SwitchCounters @switch,
        NetmodHost netmods,
        RouteTable routes,
        PrefixTable prefixes,
        LocalDelivery delivery,
        Inbox inbox,
        RoutingService routing,
        LinkSecurityCounters links,
        SessionCounters sessions,
        OverlayCounters overlay,
        RouterStatus status,
        RouterIdentity identity,
        TimeProvider time)
    {
        _switch = @switch;
        _netmods = netmods;
        _routes = routes;
        _prefixes = prefixes;
        _delivery = delivery;
        _inbox = inbox;
        _routing = routing;
        _links = links;
        _sessions = sessions;
        _overlay = overlay;
        _status = status;
        _identity = identity;
        _time = time;
        _startedAt = time.GetTimestamp();
        Meter = new Meter(MeterName, RouterStatus.Version);
        CreateInstruments();

        // Only this router's meter: tests run several routers in one process, each with its own.
        Collector = new MetricsCollector(instrument => instrument.Meter == Meter);
    }

    public Meter Meter { get; }

    public MetricsCollector Collector { get; }

    /// <summary>Every instrument's current values in the Prometheus text format.</summary>
    public string Scrape() => PrometheusText.Write(Collector.Collect());

    public void Dispose()
    {
        Collector.Dispose();
        Meter.Dispose();
    }

    private static Measurement<long> Tagged(long value, string key, string tag) => new(value, new KeyValuePair<string, object?>(key, tag));

    private static string CamelCase(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    private void CreateInstruments()
    {
        // Switch: every frame read from a link netmod, and what became of it.
        Meter.CreateObservableCounter<long>("router.frames.received", () => _switch.Received, "{frame}", "Frames read from link netmods by the switch.");
        Meter.CreateObservableCounter<long>("router.frames.forwarded", () => _switch.Forwarded, "{frame}", "Frames sent on towards another router.");
        Meter.CreateObservableCounter<long>("router.frames.delivered", () => _switch.DeliveredLocally, "{frame}", "Frames addressed to this router (message slices, routing, echo).");
        Meter.CreateObservableCounter<long>("router.frames.resliced", () => _switch.Resliced, "{frame}", "Forwarded frames cut into smaller slices for the next hop's link.");
        Meter.CreateObservableCounter<long>(
            "router.frames.dropped",
            () => Enum.GetValues<DropReason>().Select(r => Tagged(_switch.Drops(r), "reason", CamelCase(r.ToString()))),
            "{frame}",
            "Frames the switch dropped, by reason.");

        // Netmods: state and each netmod's own counters (INetmodCountersFeature).
        Meter.CreateObservableGauge<long>(
            "router.netmod.running",
            () => _netmods.Instances.Select(i => Tagged(i.State == NetmodState.Running ? 1 : 0, "netmod", i.Name)),
            "{netmod}",
            "1 for each netmod that runs, 0 for one that failed or stopped.");
        Meter.CreateObservableCounter<long>("router.netmod.frames", () => NetmodTraffic(bytes: false), "{frame}", "Frames read from each netmod (in) and sent through it (out).");
        Meter.CreateObservableCounter<long>("router.netmod.bytes", () => NetmodTraffic(bytes: true), "By", "Bytes of those frames.");
        Meter.CreateObservableCounter<long>(
            "router.netmod.dropped",
            () => _netmods.Instances.SelectMany(i => Enum.GetValues<DropReason>().Select(r => new Measurement<long>(i.Drops(r), [new("netmod", i.Name), new("reason", CamelCase(r.ToString()))]))),
            "{frame}",
            "Frames the switch dropped, by the netmod they came in on (or were to leave by) and reason.");
        Meter.CreateObservableCounter<long>("router.peer.bytes", PeerBytes, "By", "Bytes exchanged with each peer over its live link, in and out (since the link came up).");
        Meter.CreateObservableCounter<long>("router.netmod.events", NetmodEvents, "{event}", "Each netmod's own counters (frames, packets, bytes, limits hit), as under netmods in router status --json.");

        // Peers and routes.
        Meter.CreateObservableGauge<long>("router.peers", Peers, "{peer}", "Peers by netmod and state (configured, connecting, up), as router peers shows them.");
        Meter.CreateObservableGauge<long>("router.routes", () => _routes.Count, "{route}", "Destinations in the route table.");
        Meter.CreateObservableGauge<long>("router.prefixes", () => _prefixes.Current.Entries.Count, "{prefix}", "IP prefixes announced in the mesh.");
        Meter.CreateObservableGauge<long>("router.prefix.conflicts", () => _prefixes.Current.Conflicts.Count, "{prefix}", "IP prefixes announced by more than one router.");

        // Handshakes: link (neighbour authentication) and end-to-end session key exchanges.
        Meter.CreateObservableCounter<long>("router.link.handshakes", () => _links.HandshakesCompleted, "{handshake}", "Link handshakes that authenticated a neighbour (re-handshakes included).");
        Meter.CreateObservableCounter<long>("router.link.handshake.failures", LinkHandshakeFailures, "{handshake}", "Link handshakes that failed, by reason.");
        Meter.CreateObservableCounter<long>("router.session.handshakes", () => _sessions.HandshakesCompleted + _sessions.HandshakesAccepted, "{handshake}", "End-to-end key exchanges completed, as initiator or responder.");
        Meter.CreateObservableCounter<long>("router.session.handshake.failures", SessionHandshakeFailures, "{handshake}", "End-to-end key exchange messages refused and exchanges timed out, by reason.");
        Meter.CreateObservableCounter<long>("router.security.events", SecurityEvents, "{event}", "Every security counter of router status --json (counters.security), by layer and name.");

        // Reassembly and local delivery of messages.
        Meter.CreateObservableGauge<long>("router.reassembly.pending", () => _delivery.Pending, "{message}", "Messages partly received.");
        Meter.CreateObservableGauge<long>("router.reassembly.buffered", () => _delivery.BufferedBytes, "By", "Memory held by partly received messages.");
        Meter.CreateObservableCounter<long>(
            "router.reassembly.dropped",
            () => [Tagged(_delivery.TimedOut, "reason", "timedOut"), Tagged(_delivery.OverLimit, "reason", "overLimit"), Tagged(_delivery.OverSourceLimit, "reason", "overSourceLimit")],
            "{message}",
            "Partly received messages given up, by reason.");
        Meter.CreateObservableCounter<long>("router.messages.delivered", () => _delivery.Completed, "{message}", "Messages for this router completely received.");
        Meter.CreateObservableGauge<long>("router.inbox.waiting", () => _inbox.Waiting, "{message}", "Messages waiting for a listener (router listen).");
        Meter.CreateObservableCounter<long>("router.inbox.dropped", () => _inbox.Dropped, "{message}", "Messages dropped because the inbox was full.");

        // IP over the mesh.
        Meter.CreateObservableCounter<long>(
            "router.overlay.packets",
            () => [Tagged(_overlay.Sent.Packets, "direction", "out"), Tagged(_overlay.Received.Packets, "direction", "in")],
            "{packet}",
            "IP packets from the interface into the mesh (out) and from the mesh to the interface (in).");
        Meter.CreateObservableCounter<long>(
            "router.overlay.bytes",
            () => [Tagged(_overlay.Sent.Bytes, "direction", "out"), Tagged(_overlay.Received.Bytes, "direction", "in")],
            "By",
            "IP bytes of those packets.");
        Meter.CreateObservableCounter<long>(
            "router.overlay.batches",
            () => [Tagged(_overlay.Sent.Batches, "direction", "out"), Tagged(_overlay.Received.Batches, "direction", "in")],
            "{batch}",
            "Sealed packet batches sent and received.");
        Meter.CreateObservableCounter<long>(
            "router.overlay.dropped",
            () => Enum.GetValues<PacketDrop>().Select(r => Tagged(_overlay.Drops(r), "reason", CamelCase(r.ToString()))),
            "{packet}",
            "IP packets dropped, by reason.");

        // The router itself.
        Meter.CreateObservableGauge<double>("router.uptime", () => _time.GetElapsedTime(_startedAt).TotalSeconds, "s", "Time since the router started.");
        Meter.CreateObservableGauge<long>(
            "router.info",
            () => new Measurement<long>(1, [new("version", RouterStatus.Version), new("sdk_version", SdkVersion.Current.ToString(2)), new("address", _identity.Address.ToString())]),
            null,
            "Always 1; the labels carry the router's version, netmod SDK version and address.");
    }

    private IEnumerable<Measurement<long>> NetmodTraffic(bool bytes)
    {
        foreach (var instance in _netmods.Instances)
        {
            var t = instance.Traffic;
            yield return new Measurement<long>(bytes ? t.BytesIn : t.FramesIn, [new("netmod", instance.Name), new("direction", "in")]);
            yield return new Measurement<long>(bytes ? t.BytesOut : t.FramesOut, [new("netmod", instance.Name), new("direction", "out")]);
        }
    }

    private IEnumerable<Measurement<long>> PeerBytes()
    {
        foreach (var peer in _status.Peers())
        {
            if (peer is { Address: { } address, Traffic: { } t })
            {
                yield return new Measurement<long>(t.BytesIn, [new("netmod", peer.Netmod), new("peer", address), new("direction", "in")]);
                yield return new Measurement<long>(t.BytesOut, [new("netmod", peer.Netmod), new("peer", address), new("direction", "out")]);
            }
        }
    }

    private IEnumerable<Measurement<long>> NetmodEvents()
    {
        foreach (var instance in _netmods.Instances)
        {
            if (instance.Netmod.GetFeature<INetmodCountersFeature>() is not { } feature)
            {
                continue;
            }

            foreach (var counter in feature.GetCounters())
            {
                yield return new Measurement<long>(counter.Value, [new("netmod", instance.Name), new("event", counter.Key)]);
            }
        }
    }

    private IEnumerable<Measurement<long>> Peers() =>
        _status.Peers()
            .GroupBy(p => (p.Netmod, p.State))
            .Select(g => new Measurement<long>(g.Count(), [new("netmod", g.Key.Netmod), new("state", g.Key.State)]));

    private IEnumerable<Measurement<long>> LinkHandshakeFailures()
    {
        foreach (var reason in Enum.GetValues<HandshakeFailure>().Where(r => r != HandshakeFailure.None))
        {
            yield return Tagged(_links.Failures(reason), "reason", CamelCase(reason.ToString()));
        }

        yield return Tagged(_links.HandshakesTimedOut, "reason", "timedOut");
        yield return Tagged(_links.HandshakesRateLimited, "reason", "rateLimited");
        yield return Tagged(_links.PeersRefused, "reason", "refusedByPolicy");
    }

    private IEnumerable<Measurement<long>> SessionHandshakeFailures()
    {
        SessionDrop[] handshakeDrops =
        [
            SessionDrop.MalformedHandshake, SessionDrop.WrongIdentityKey, SessionDrop.BadHandshakeSignature,
            SessionDrop.ReplayedInit, SessionDrop.InitRateLimited, SessionDrop.UnexpectedAccept,
        ];
        foreach (var reason in handshakeDrops)
        {
            yield return Tagged(_sessions.Drops(reason), "reason", CamelCase(reason.ToString()));
        }

        yield return Tagged(_sessions.HandshakesTimedOut, "reason", "timedOut");
    }

    private IEnumerable<Measurement<long>> SecurityEvents()
    {
        foreach (var (layer, counters) in _status.SecurityCounters())
        {
            foreach (var counter in counters)
            {
                yield return new Measurement<long>(counter.Value, [new("layer", layer), new("event", counter.Key)]);
            }
        }
    }
}
