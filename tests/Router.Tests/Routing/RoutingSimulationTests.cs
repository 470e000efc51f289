using Router.Simulation;
using Xunit.Abstractions;

namespace Router.Tests.Routing;

/// <summary>
/// The real routing engine in simulated meshes of 50 routers on a virtual clock
/// (hello interval 1 s, update interval 4 s, link latency 1 ms unless stated).
/// The loop check runs after every event that changed any router's routes.
/// </summary>
[Collection(CpuHeavyCollection.Name)]
public class RoutingSimulationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    private static void WatchForLoops(MeshSimulation sim) => sim.RoutesChanged = r => sim.AssertLoopFreeFrom(r.Index);

    private TimeSpan Converge(MeshSimulation sim, TimeSpan limit)
    {
        var took = sim.RunUntilTrue(sim.AllReachAll, limit, TimeSpan.FromMilliseconds(50));
        Assert.True(took is not null, $"did not converge within {limit.TotalSeconds} s");
        output.WriteLine($"converged after {took!.Value.TotalSeconds:F2} s of virtual time");
        return took.Value;
    }

    public static TheoryData<string> Topologies50 => ["line", "ring", "grid", "random"];

    private static MeshSimulation Build(string topology, int seed) => topology switch
    {
        "line" => Topologies.Line(50, seed),
        "ring" => Topologies.Ring(50, seed),
        "grid" => Topologies.Grid(10, 5, seed),
        _ => Topologies.RandomGeometric(50, 0.25, seed),
    };

    [Theory]
    [MemberData(nameof(Topologies50))]
    public void Converge_FiftyRouters_EveryRouterReachesEveryOtherWithoutLoops(string topology)
    {
        var sim = Build(topology, seed: 1);
        WatchForLoops(sim);
        Converge(sim, TimeSpan.FromSeconds(10));

        // And stays converged.
        sim.RunFor(TimeSpan.FromSeconds(30));
        Assert.True(sim.AllReachAll());
    }

    [Fact]
    public void Converge_Line_PathsFollowTheLine()
    {
        var sim = Topologies.Line(50, seed: 2);
        Converge(sim, TimeSpan.FromSeconds(10));
        Assert.Equal(49, sim.PathLength(0, 49));
        Assert.Equal(1, sim.NextHop(0, 49));
        Assert.Equal(48, sim.NextHop(49, 0));
    }

    [Theory]
    [InlineData("ring", false)]
    [InlineData("ring", true)]
    [InlineData("grid", false)]
    [InlineData("random", false)]
    public void Cut_LinkWithAlternatives_ReroutesWithinThreeHelloIntervals(string topology, bool signalled)
    {
        var sim = Build(topology, seed: 3);
        WatchForLoops(sim);
        Converge(sim, TimeSpan.FromSeconds(10));
        sim.RunFor(TimeSpan.FromSeconds(5));

        // Cut the busiest link that has an alternative path.
        var (a, b) = sim.Links.First(l => topology != "random" || HasAlternative(sim, l));
        sim.Cut(a, b, signalled);
        var took = sim.RunUntilTrue(sim.AllReachAll, 3 * sim.HelloInterval, TimeSpan.FromMilliseconds(10));

        Assert.True(took is not null, $"not rerouted within 3 hello intervals after cutting {a}-{b}");
        output.WriteLine($"rerouted after {took!.Value.TotalMilliseconds:F0} ms (virtual) around {a}-{b}, signalled={signalled}");
    }

    private static bool HasAlternative(MeshSimulation sim, (int A, int B) link)
    {
        sim.Cut(link.A, link.B, signalled: false);
        var reachable = new HashSet<int> { link.A };
        var frontier = new Queue<int>([link.A]);
        while (frontier.TryDequeue(out var node))
        {
            for (var other = 0; other < sim.Routers.Count; other++)
            {
                if (sim.IsUp(node, other) && reachable.Add(other))
                {
                    frontier.Enqueue(other);
                }
            }
        }

        sim.Restore(link.A, link.B);
        return reachable.Contains(link.B);
    }

    [Fact]
    public void Partition_Heals_AndEveryRouterReachesEveryOtherAgain()
    {
        var sim = Topologies.Line(50, seed: 4);
        WatchForLoops(sim);
        Converge(sim, TimeSpan.FromSeconds(10));

        sim.Cut(24, 25, signalled: false);
        var split = sim.RunUntilTrue(() => sim.NextHop(0, 49) < 0 && sim.NextHop(49, 0) < 0, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        Assert.True(split is not null, "routes across the partition were not withdrawn");
        Assert.True(sim.AllConnectedPairsReach());

        sim.RunFor(TimeSpan.FromSeconds(20));
        sim.Restore(24, 25);
        var healed = sim.RunUntilTrue(sim.AllReachAll, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        Assert.True(healed is not null, "the partition did not heal");
        output.WriteLine($"withdrawn after {split!.Value.TotalSeconds:F2} s, healed after {healed!.Value.TotalSeconds:F2} s");
    }

    [Fact]
    public void Routes_PreferTheLowerLatencyPath()
    {
        // 0 - 1 - 3 fast, 0 - 2 - 3 slow.
        var sim = new MeshSimulation(4, seed: 5);
        sim.Connect(0, 1, TimeSpan.FromMilliseconds(1));
        sim.Connect(1, 3, TimeSpan.FromMilliseconds(1));
        sim.Connect(0, 2, TimeSpan.FromMilliseconds(20));
        sim.Connect(2, 3, TimeSpan.FromMilliseconds(20));
        sim.RunFor(TimeSpan.FromSeconds(10));
        Assert.Equal(1, sim.NextHop(0, 3));

        // The fast path degrades: traffic moves to the other.
        sim.SetLatency(1, 3, TimeSpan.FromMilliseconds(100));
        sim.RunFor(TimeSpan.FromSeconds(20));
        Assert.Equal(2, sim.NextHop(0, 3));
    }

    [Fact]
    public void Routes_LossyLinkIsAvoidedWhenThereIsAnAlternative()
    {
        var sim = new MeshSimulation(4, seed: 6);
        sim.Connect(0, 1, TimeSpan.FromMilliseconds(1));
        sim.Connect(1, 3, TimeSpan.FromMilliseconds(1));
        sim.Connect(0, 2, TimeSpan.FromMilliseconds(2));
        sim.Connect(2, 3, TimeSpan.FromMilliseconds(2));
        sim.RunFor(TimeSpan.FromSeconds(10));
        Assert.Equal(1, sim.NextHop(0, 3));

        sim.SetLoss(0, 1, 0.6);
        sim.RunFor(TimeSpan.FromSeconds(30));
        Assert.Equal(2, sim.NextHop(0, 3));
    }

    [Fact]
    public void LossyLinks_FullProofsLostInTransit_AreAskedForAndRepaired()
    {
        // A line: one path between any two routers, so a full proof lost on it and never sent
        // again would leave its references unresolved, and the route missing, for good.
        var sim = Topologies.Line(20, seed: 7);
        WatchForLoops(sim);
        Converge(sim, TimeSpan.FromSeconds(10));
        foreach (var (a, b) in sim.Links)
        {
            sim.SetLoss(a, b, 0.2);
        }

        sim.RunFor(TimeSpan.FromSeconds(60));
        var unknown = sim.Routers.Sum(r => r.UnknownProofReferences);
        var requests = sim.Routers.Sum(r => r.Engine.ProofRequests);
        Assert.True(unknown > 0 && requests > 0, "no full proof was lost: the loss did not exercise the repair");

        foreach (var (a, b) in sim.Links)
        {
            sim.SetLoss(a, b, 0);
        }

        var healed = sim.RunUntilTrue(sim.AllReachAll, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        Assert.True(healed is not null, "routes did not all come back after the loss stopped");
        output.WriteLine($"{unknown} unresolved references and {requests} proof requests in 60 s at 20 % loss; all routes back {healed!.Value.TotalSeconds:F2} s after the loss stopped");
    }

    [Fact]
    public void Failover_OntoARouteWhoseUpdatesWereLost_KeepsItUntilItIsRefreshed()
    {
        // 0 - 1 direct, then losing 60 %, and 0 - 2 - 1 clean: 0 routes to 1 through 2, and most
        // of 1's updates over the direct link are lost, so that route may be close to
        // expiring when 0 - 2 fails and it takes over. Without a refresh it expired in use in
        // 11 of these 200 runs, 0.2-0.7 s after the failover (as a dual-link test once saw).
        var options = new RoutingOptionsView { HelloInterval = TimeSpan.FromMilliseconds(500), UpdateInterval = TimeSpan.FromSeconds(2) };
        var refreshes = 0L;
        for (var seed = 0; seed < 200; seed++)
        {
            var sim = new MeshSimulation(3, seed, options);
            sim.Connect(0, 1, TimeSpan.FromMilliseconds(1));
            sim.Connect(0, 2, TimeSpan.FromMilliseconds(0.1));
            sim.Connect(2, 1, TimeSpan.FromMilliseconds(0.1));
            sim.RunFor(TimeSpan.FromSeconds(5));
            sim.SetLoss(0, 1, 0.6);
            sim.RunFor(TimeSpan.FromSeconds(4 + (seed % 7)));
            Assert.Equal(2, sim.NextHop(0, 1));

            sim.Cut(0, 2, signalled: false);
            sim.SetLoss(0, 1, 0);
            var failover = sim.RunUntilTrue(() => sim.NextHop(0, 1) == 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
            Assert.True(failover is not null, $"seed {seed}: 0 did not fail over to the direct link");
            var lost = sim.RunUntilTrue(() => sim.NextHop(0, 1) != 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
            Assert.True(lost is null, $"seed {seed}: the route over the direct link was lost {lost?.TotalMilliseconds:F0} ms after the failover");
            refreshes += sim.Routers[0].Engine.RefreshRequests;
        }

        Assert.True(refreshes > 0, "no route was refreshed: the runs did not exercise it");
        output.WriteLine($"{refreshes} refresh requests from router 0 over 200 failovers");
    }

    [Fact]
    public void RandomLinkEvents_ManyTopologies_NeverFormALoopAndAlwaysHeal()
    {
        var events = 0;
        for (var seed = 0; seed < 30; seed++)
        {
            var random = new Random(seed);
            var sim = Topologies.RandomGraph(20 + random.Next(20), extraLinks: 15 + random.Next(30), seed);
            WatchForLoops(sim);
            sim.RunFor(TimeSpan.FromSeconds(10));
            var links = sim.Links.ToList();

            for (var step = 0; step < 60; step++)
            {
                var (a, b) = links[random.Next(links.Count)];
                switch (random.Next(6))
                {
                    case 0:
                        sim.Cut(a, b, signalled: true);
                        break;
                    case 1:
                        sim.Cut(a, b, signalled: false);
                        break;
                    case 2:
                    case 3:
                        sim.Restore(a, b);
                        break;
                    case 4:
                        sim.SetLatency(a, b, TimeSpan.FromMilliseconds(0.5 + (random.NextDouble() * 50)));
                        break;
                    default:
                        sim.SetLoss(a, b, random.NextDouble() < 0.5 ? 0 : random.NextDouble() * 0.3);
                        break;
                }

                events++;
                sim.RunFor(TimeSpan.FromMilliseconds(random.Next(1, 3000)));
            }

            // Quiet again, lossless: every pair still connected must find each other.
            foreach (var (a, b) in links)
            {
                sim.SetLoss(a, b, 0);
            }

            var healed = sim.RunUntilTrue(sim.AllConnectedPairsReach, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
            Assert.True(healed is not null, $"seed {seed}: connected routers did not find each other after the events");
        }

        output.WriteLine($"{events} random link events over 30 topologies, loop check after every route change");
    }
}

