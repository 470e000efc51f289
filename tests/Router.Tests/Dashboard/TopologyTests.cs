using Router.Api;
using Router.Dashboard;

namespace Router.Tests.Dashboard;

public sealed class TopologyTests
{
    private static readonly string A = TestAddresses.Random().ToString();
    private static readonly string B = TestAddresses.Random().ToString();
    private static readonly string C = TestAddresses.Random().ToString();
    private static readonly string D = TestAddresses.Random().ToString();

    private static PeerInfo Peer(string? address, string state) =>
        new(address, "inet", state, "127.0.0.1:1", false, DateTimeOffset.UnixEpoch, null, state == "up" ? "authenticated" : null, null);

    private static RouteInfo Route(string destination, string nextHop, int metric) =>
        new(destination, nextHop, "inet", metric, 1, 0, "fd6d::1", []);

    [Fact]
    public void Build_Line_LocalNeighbourAndRemoteThroughIt()
    {
        var topology = Topology.Build(A, [Peer(B, "up")], [Route(B, B, 20), Route(C, B, 40)]);

        var nodes = topology.Nodes.ToDictionary(n => n.Address);
        Assert.Equal(3, nodes.Count);
        Assert.Equal("local", nodes[A].Role);
        Assert.Equal("neighbour", nodes[B].Role);
        Assert.Equal("remote", nodes[C].Role);
        Assert.Equal(B, nodes[C].Via);
        Assert.Equal(40, nodes[C].Metric);
        Assert.All(topology.Nodes, n => Assert.True(n.Reachable));
        Assert.Equal(A[..8], nodes[A].Label);
        Assert.Equal(
            [new TopologyEdge(A, B, "link"), new TopologyEdge(B, C, "route")],
            topology.Edges);
    }

    [Fact]
    public void Build_PeerDown_NeighbourUnreachableWithoutLink()
    {
        var topology = Topology.Build(A, [Peer(B, "connecting"), Peer(null, "connecting")], []);

        Assert.Equal(2, topology.Nodes.Count);
        var b = topology.Nodes.Single(n => n.Address == B);
        Assert.Equal(("neighbour", false), (b.Role, b.Reachable));
        Assert.Empty(topology.Edges);
    }

    [Fact]
    public void Build_NeighbourReachedBetterThroughAnother_StaysNeighbourWithRoute()
    {
        // A—B and A—C linked; C's link is slow, so A reaches C through B.
        var topology = Topology.Build(A, [Peer(B, "up"), Peer(C, "up")], [Route(B, B, 20), Route(C, B, 40)]);

        var c = topology.Nodes.Single(n => n.Address == C);
        Assert.Equal(("neighbour", B), (c.Role, c.Via));
        Assert.Contains(new TopologyEdge(A, C, "link"), topology.Edges);
        Assert.Contains(new TopologyEdge(B, C, "route"), topology.Edges);
    }

    [Fact]
    public void Build_TwoLinksToOneNeighbour_OneEdge()
    {
        var topology = Topology.Build(A, [Peer(B, "up"), Peer(B, "up") with { Netmod = "udp" }], [Route(B, B, 20), Route(D, B, 60)]);

        Assert.Single(topology.Edges, e => e.Kind == "link");
        Assert.Equal(3, topology.Nodes.Count);
    }

    [Fact]
    public void Build_RouteWithoutPeerFeature_NextHopStillLinked()
    {
        // A netmod that reports no peers: the route table alone shows the neighbour.
        var topology = Topology.Build(A, [], [Route(C, B, 40)]);

        Assert.Equal("neighbour", topology.Nodes.Single(n => n.Address == B).Role);
        Assert.Contains(new TopologyEdge(A, B, "link"), topology.Edges);
        Assert.Contains(new TopologyEdge(B, C, "route"), topology.Edges);
    }
}
