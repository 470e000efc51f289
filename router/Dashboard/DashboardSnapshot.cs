using System.Text.Json.Serialization;
using Router.Api;
using Router.Routing;
using Router.Sdk;

namespace Router.Dashboard;

/// <summary>
/// What the dashboard shows at one instant: the status document of <c>router status --json</c>
/// (address, netmods with their counters, peers, frame and packet counters), the route table,
/// what routing measures on each link, and the mesh as this router knows it. Counters are
/// totals; the page turns two snapshots into rates.
/// </summary>
internal sealed record DashboardSnapshot(
    DateTimeOffset At,
    StatusResponse Status,
    IReadOnlyList<RouteInfo> Routes,
    IReadOnlyList<LinkInfo> Links,
    TopologyInfo Topology);

/// <summary>One neighbour as routing measures it: smoothed RTT (null before the first hello echo) and link cost (null while infinite).</summary>
internal sealed record LinkInfo(string Address, string Netmod, double? RttMs, int? Cost);

/// <summary>The mesh as this router knows it: routers (<see cref="TopologyNode"/>) and what joins them (<see cref="TopologyEdge"/>).</summary>
internal sealed record TopologyInfo(IReadOnlyList<TopologyNode> Nodes, IReadOnlyList<TopologyEdge> Edges);

/// <summary>
/// A router in the graph. Role: <c>local</c> (this router), <c>neighbour</c> (a configured or
/// connected peer: a direct link), <c>remote</c> (known only from the route table).
/// Reachable: a link is up or a route leads there. Via: the next hop of its route.
/// </summary>
internal sealed record TopologyNode(string Address, string Label, string Role, bool Reachable, string? Via, int? Metric);

/// <summary>Kind: <c>link</c> (a direct link of this router that is up) or <c>route</c> (the destination is reached through From).</summary>
internal sealed record TopologyEdge(string From, string To, string Kind);

/// <summary>Builds the graph from what this router knows: its peers and its selected routes.</summary>
internal static class Topology
{
    public static TopologyInfo Build(string self, IReadOnlyList<PeerInfo> peers, IReadOnlyList<RouteInfo> routes)
    {
        var nodes = new Dictionary<string, TopologyNode>(StringComparer.Ordinal)
        {
            [self] = new TopologyNode(self, Label(self), "local", true, null, null),
        };
        var edges = new List<TopologyEdge>();
        var linked = new HashSet<string>(StringComparer.Ordinal);

        // Peers come first so a router that is both a neighbour and routed keeps the neighbour role.
        foreach (var peer in peers.Where(p => p.Address is not null && p.Address != self))
        {
            var up = peer.State == "up";
            if (!nodes.TryGetValue(peer.Address!, out var known) || (up && !known.Reachable))
            {
                nodes[peer.Address!] = new TopologyNode(peer.Address!, Label(peer.Address!), "neighbour", up, null, null);
            }

            if (up && linked.Add(peer.Address!))
            {
                edges.Add(new TopologyEdge(self, peer.Address!, "link"));
            }
        }

        foreach (var route in routes.Where(r => r.Destination != self))
        {
            if (route.NextHop == route.Destination)
            {
                // A neighbour whose netmod reports no peers still has its link in the route table.
                if (linked.Add(route.Destination))
                {
                    edges.Add(new TopologyEdge(self, route.Destination, "link"));
                }

                nodes[route.Destination] = new TopologyNode(route.Destination, Label(route.Destination), "neighbour", true, route.NextHop, route.Metric);
                continue;
            }

            if (!nodes.ContainsKey(route.NextHop))
            {
                nodes[route.NextHop] = new TopologyNode(route.NextHop, Label(route.NextHop), "neighbour", true, null, null);
                if (linked.Add(route.NextHop))
                {
                    edges.Add(new TopologyEdge(self, route.NextHop, "link"));
                }
            }

            var role = nodes.TryGetValue(route.Destination, out var existing) && existing.Role == "neighbour" ? "neighbour" : "remote";
            nodes[route.Destination] = new TopologyNode(route.Destination, Label(route.Destination), role, true, route.NextHop, route.Metric);
            edges.Add(new TopologyEdge(route.NextHop, route.Destination, "route"));
        }

        return new TopologyInfo([.. nodes.Values], edges);
    }

    /// <summary>The short form people read in logs and tables: the first 8 hex digits.</summary>
    private static string Label(string address) =>
        RouterAddress.TryParse(address, out var parsed) ? parsed.ToShortString() : address;
}

/// <summary>Builds <see cref="DashboardSnapshot"/>s from the core's live state; every read is of existing counters and snapshots.</summary>
internal sealed class DashboardState(RouterStatus status, RoutingService routing, TimeProvider time)
{
    public DashboardSnapshot Snapshot()
    {
        var document = status.Status();
        var routes = status.Routes();
        var links = routing.Neighbours
            .Select(n =>
            {
                var hop = (NextHop)n.Link;
                var rtt = n.Quality.Rtt;
                return new LinkInfo(
                    n.Address.ToString(),
                    hop.Netmod.Name,
                    rtt is { } r ? Math.Round(r.TotalMilliseconds, 3) : (double?)null,
                    n.Cost >= Metric.Infinity ? null : (int?)n.Cost);
            })
            .ToList();
        return new DashboardSnapshot(time.GetUtcNow(), document, routes, links, Topology.Build(document.Address, document.Peers, routes));
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(DashboardSnapshot))]
internal sealed partial class DashboardJson : JsonSerializerContext;
