using System.Diagnostics;
using System.Globalization;
using Router.Routing;
using Router.Simulation;
using Router.Switching;

namespace Router.Benchmarks.Routing;

/// <summary>
/// The routing scaling report: for each mesh size, a random geometric mesh of the real routing
/// engine on the simulator's virtual clock (hello 1 s, update 4 s unless told otherwise), measuring
/// <list type="bullet">
/// <item>convergence: virtual time from start until every router reaches every other;</item>
/// <item>control traffic: routing bytes per link per second over 60 virtual seconds after convergence;</item>
/// <item>reroute: after silently cutting one link that carries routes and has an alternative,
///   virtual time until every router reaches every other again, for several links in turn
///   (one after another, each left cut);</item>
/// <item>cost of the run: wall-clock and CPU time per phase and the process's peak working set.</item>
/// </list>
/// Deterministic for a seed (wall-clock figures aside). Not BenchmarkDotNet: one long run.
/// <c>--origin-cache N</c> instead measures the verified-origin cache's memory per origin
/// (<see cref="OriginCacheMemory"/>).
/// </summary>
internal static class ScalingRun
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private static readonly double[] Milestones = [0.5, 0.9, 0.99];

    public static int Execute(string[] args)
    {
        var sizes = new List<int> { 100, 1000 };
        var seed = 1;
        var cuts = 10;
        var meanDegree = 7.0;
        var loopWatchUpTo = 100;
        var timers = new RoutingOptionsView();
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--sizes" when value is not null:
                    sizes = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, Invariant)).ToList();
                    i++;
                    break;
                case "--seed" when value is not null:
                    seed = int.Parse(value, Invariant);
                    i++;
                    break;
                case "--cuts" when value is not null:
                    cuts = int.Parse(value, Invariant);
                    i++;
                    break;
                case "--degree" when value is not null:
                    meanDegree = double.Parse(value, Invariant);
                    i++;
                    break;
                case "--hello-interval" when value is not null:
                    timers = timers with { HelloInterval = TimeSpan.FromSeconds(double.Parse(value, Invariant)) };
                    i++;
                    break;
                case "--update-interval" when value is not null:
                    timers = timers with { UpdateInterval = TimeSpan.FromSeconds(double.Parse(value, Invariant)) };
                    i++;
                    break;
                case "--loop-watch-up-to" when value is not null:
                    loopWatchUpTo = int.Parse(value, Invariant);
                    i++;
                    break;
                case "--origin-cache" when value is not null:
                    return OriginCacheMemory.Execute(int.Parse(value, Invariant));
                default:
                    Console.Error.WriteLine($"unknown or incomplete option '{args[i]}'; options: --sizes 100,1000 --seed 1 --cuts 10 --degree 7 --hello-interval 1 --update-interval 4 (seconds) --loop-watch-up-to 100; or --origin-cache 10000 alone");
                    return 2;
            }
        }

        Console.WriteLine($"routing scaling run: sizes {string.Join(",", sizes)}, seed {seed}, {cuts} cuts, target mean degree {meanDegree}, hello {timers.HelloInterval.TotalSeconds} s, update {timers.UpdateInterval.TotalSeconds} s, per-event loop watch up to {loopWatchUpTo} routers");
        var results = new List<Result>();
        foreach (var n in sizes)
        {
            results.Add(Run(n, seed, cuts, meanDegree, timers, n <= loopWatchUpTo));
        }

        Console.WriteLine();
        Print(results);
        return results.All(r => r.Converged is not null && r.StayedConverged && r.LoopsAtEvents == 0 && r.LoopsAtChecks == 0) ? 0 : 1;
    }

    private static Result Run(int n, int seed, int cutCount, double meanDegree, RoutingOptionsView timers, bool watchEveryEvent)
    {
        var total = Stopwatch.StartNew();
        var cpuAtStart = CpuTime();
        var radius = RadiusFor(n, meanDegree);
        var phase = Stopwatch.StartNew();
        var sim = Topologies.RandomGeometric(n, radius, seed, timers);
        var links = sim.Links.ToList();
        var buildTime = phase.Elapsed;
        var result = new Result
        {
            Routers = n,
            Radius = radius,
            Links = links.Count,
            MeanDegree = 2.0 * links.Count / n,
            HelloInterval = sim.HelloInterval,
            BuildWall = buildTime,
        };
        Log(n, $"radius {radius:F4}: {links.Count} links, mean degree {result.MeanDegree:F2}, built in {buildTime.TotalSeconds:F1} s");

        var check = new ReachabilityCheck(sim);
        if (watchEveryEvent)
        {
            sim.RoutesChanged = router =>
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    sim.AssertLoopFreeFrom(router.Index);
                }
                catch (RoutingLoopException)
                {
                    result.LoopsAtEvents++;
                }
                finally
                {
                    result.LoopWatchWall += Stopwatch.GetElapsedTime(started);
                }
            };
        }

        result.LoopWatch = watchEveryEvent ? "every route change" : "at each reachability check";

        // (a) Convergence, checked every 100 ms of virtual time, with the moments when half,
        // 90 % and 99 % of the (source, destination) pairs could reach.
        phase.Restart();
        var step = TimeSpan.FromMilliseconds(100);
        while (sim.Now <= TimeSpan.FromSeconds(300))
        {
            var fraction = check.ReachableFraction();
            foreach (var milestone in Milestones)
            {
                if (fraction >= milestone)
                {
                    result.PairsReachingBy.TryAdd(milestone, sim.Now);
                }
            }

            if (fraction >= 1)
            {
                result.Converged = sim.Now;
                break;
            }

            sim.RunFor(step);
        }

        result.ConvergeWall = phase.Elapsed;
        result.ConvergeCpu = CpuTime() - cpuAtStart;
        result.ConvergeChecks = check.Checks;
        result.ConvergeCheckWall = check.Spent;
        if (result.Converged is null)
        {
            Log(n, "did not converge within 300 virtual seconds");
            result.TotalWall = total.Elapsed;
            result.PeakWorkingSet = PeakWorkingSet();
            return result;
        }

        if (n <= 200 && !sim.AllReachAll())
        {
            throw new InvalidOperationException("the fast reachability check disagrees with MeshSimulation.AllReachAll");
        }

        result.MeanRoutes = sim.Routers.Average(r => r.RouteCount);
        result.ConvergenceBytesPerLink = (double)sim.ControlBytes / links.Count;
        result.ConvergenceSeqnoRequests = sim.Routers.Sum(r => r.Engine.SeqnoRequests.Started);
        result.ConvergenceIgnored = sim.Routers.Sum(r => r.Engine.Ignored);
        result.ConvergenceUnknownReferences = sim.Routers.Sum(r => r.UnknownProofReferences);
        result.ConvergenceProofRequests = sim.Routers.Sum(r => r.Engine.ProofRequests);
        Log(n, $"converged after {result.Converged.Value.TotalSeconds:F1} virtual s ({result.ConvergeWall.TotalSeconds:F1} s wall, of which checks {check.Spent.TotalSeconds:F1} s in {check.Checks} checks)");

        // (b) Control traffic in steady state.
        phase.Restart();
        var cpu = CpuTime();
        var before = sim.ControlBytes;
        var unknownBefore = sim.Routers.Sum(r => r.UnknownProofReferences);
        var requestsBefore = sim.Routers.Sum(r => r.Engine.SeqnoRequests.Started);
        var inFullBefore = sim.Routers.Sum(r => r.Engine.RoutesSent.InFull);
        var byReferenceBefore = sim.Routers.Sum(r => r.Engine.RoutesSent.ByReference);
        sim.RunFor(TimeSpan.FromSeconds(60));
        result.ControlBytesPerLinkPerSecond = (sim.ControlBytes - before) / (links.Count * 60.0);
        result.SteadyUnknownReferences = sim.Routers.Sum(r => r.UnknownProofReferences) - unknownBefore;
        result.SteadySeqnoRequests = sim.Routers.Sum(r => r.Engine.SeqnoRequests.Started) - requestsBefore;
        result.SteadyRoutesInFull = sim.Routers.Sum(r => r.Engine.RoutesSent.InFull) - inFullBefore;
        result.SteadyRoutesByReference = sim.Routers.Sum(r => r.Engine.RoutesSent.ByReference) - byReferenceBefore;
        result.SteadyWall = phase.Elapsed;
        result.SteadyCpu = CpuTime() - cpu;
        result.StayedConverged = check.AllReachAll();
        result.ExpectedHelloBytesPerLinkPerSecond = 2.0 * (FrameHeader.Size + Hello.Size) / sim.HelloInterval.TotalSeconds;
        // Periodic updates carry every route by proof reference: each proof went in full once,
        // when its seqno was new to the neighbour or the neighbour came up.
        result.ExpectedFullUpdateBytesPerLinkPerSecond = 2.0 * (FrameHeader.Size + UpdateMessage.HeaderSize + ((n - 1) * UpdateMessage.ReferenceEntrySize)) / timers.UpdateInterval.TotalSeconds;
        Log(n, $"steady state: {result.ControlBytesPerLinkPerSecond:N0} control B/link/s over 60 virtual s ({result.SteadyWall.TotalSeconds:F1} s wall); still converged: {result.StayedConverged}");

        // (d) Reroute after silent cuts of links that carry routes and have an alternative in the
        // mesh as it is: one at a time, each left cut (re-converging after a restore would
        // cost more simulation time than the cuts themselves at 1,000 routers).
        phase.Restart();
        cpu = CpuTime();
        var random = new Random(seed * 31 + n);
        var adjacency = Adjacency(n, links);
        var tried = new HashSet<(int, int)>();
        step = n <= 200 ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromMilliseconds(50);
        result.RerouteStep = step;
        while (result.Reroutes.Count + result.RerouteFailures < cutCount && tried.Count < links.Count)
        {
            var (a, b) = links[random.Next(links.Count)];
            if (!tried.Add((a, b)) || !HasAlternative(adjacency, a, b))
            {
                continue;
            }

            if (!CarriesRoutes(sim, a, b))
            {
                // No route crosses this link: nothing to reroute. Pick another.
                result.UnusedLinksSkipped++;
                continue;
            }

            sim.Cut(a, b, signalled: false);

            var took = sim.RunUntilTrue(check.AllReachAll, TimeSpan.FromSeconds(60), step);
            if (took is null)
            {
                result.RerouteFailures++;
                Log(n, $"cut {a}-{b}: not rerouted within 60 virtual s");
            }
            else
            {
                result.Reroutes.Add(took.Value);
                Log(n, $"cut {a}-{b}: rerouted after {took.Value.TotalMilliseconds:F0} ms = {took.Value / sim.HelloInterval:F2} hello intervals");
            }

            adjacency[a].Remove(b);
            adjacency[b].Remove(a);

            // Let triggered updates and seqno requests die down before the next cut.
            sim.RunFor(TimeSpan.FromSeconds(2));
        }

        result.RerouteWall = phase.Elapsed;
        result.RerouteCpu = CpuTime() - cpu;
        result.LoopsAtChecks = check.LoopsSeen;
        result.TotalChecks = check.Checks;
        result.TotalWall = total.Elapsed;
        result.TotalCpu = CpuTime() - cpuAtStart;
        result.PeakWorkingSet = PeakWorkingSet();
        result.ManagedHeap = GC.GetTotalMemory(forceFullCollection: true);
        Log(n, $"done in {result.TotalWall.TotalSeconds:F1} s wall; peak working set {result.PeakWorkingSet / (1024.0 * 1024):F0} MiB");
        GC.KeepAlive(sim);
        return result;
    }

    /// <summary>
    /// The radius at which <paramref name="n"/> uniform points in the unit square have the given
    /// expected mean degree. sqrt(degree / (π n)) ignores the square's edges, where discs are
    /// cut off, and gives ~5.9 instead of 7 at n = 100; this uses the exact probability that two
    /// uniform points in the unit square lie within r: πr² − 8r³/3 + r⁴/2 (r ≤ 1).
    /// </summary>
    private static double RadiusFor(int n, double meanDegree)
    {
        static double Probability(double r) => (Math.PI * r * r) - (8.0 / 3 * r * r * r) + (r * r * r * r / 2);
        double low = 0, high = 1;
        for (var i = 0; i < 60; i++)
        {
            var mid = (low + high) / 2;
            if ((n - 1) * Probability(mid) < meanDegree)
            {
                low = mid;
            }
            else
            {
                high = mid;
            }
        }

        return (low + high) / 2;
    }

    /// <summary>Whether either end of a—b has a selected route through the other.</summary>
    private static bool CarriesRoutes(MeshSimulation sim, int a, int b)
    {
        for (var d = 0; d < sim.Routers.Count; d++)
        {
            if ((d != a && sim.NextHop(a, d) == b) || (d != b && sim.NextHop(b, d) == a))
            {
                return true;
            }
        }

        return false;
    }

    private static List<int>[] Adjacency(int n, List<(int A, int B)> links)
    {
        var adjacency = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        foreach (var (a, b) in links)
        {
            adjacency[a].Add(b);
            adjacency[b].Add(a);
        }

        return adjacency;
    }

    /// <summary>Whether <paramref name="b"/> is reachable from <paramref name="a"/> without the link a—b.</summary>
    private static bool HasAlternative(List<int>[] adjacency, int a, int b)
    {
        var seen = new bool[adjacency.Length];
        var queue = new Queue<int>([a]);
        seen[a] = true;
        while (queue.TryDequeue(out var node))
        {
            foreach (var other in adjacency[node])
            {
                if ((node == a && other == b) || (node == b && other == a) || seen[other])
                {
                    continue;
                }

                if (other == b)
                {
                    return true;
                }

                seen[other] = true;
                queue.Enqueue(other);
            }
        }

        return false;
    }

    /// <summary>User + system CPU time of this process: unlike wall-clock time, not inflated by other load on the machine.</summary>
    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static long PeakWorkingSet()
    {
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.PeakWorkingSet64;
    }

    private static void Log(int n, string message) =>
        Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] n={n}: {message}");

    private static void Print(List<Result> results)
    {
        static string Row(IEnumerable<string> cells) => "| " + string.Join(" | ", cells) + " |";
        string Cells(Func<Result, string> cell) => string.Join(" | ", results.Select(cell));

        Console.WriteLine(Row(["", .. results.Select(r => $"n = {r.Routers}")]));
        Console.WriteLine(Row(["---", .. results.Select(_ => "---:")]));
        void Line(string name, Func<Result, string> cell) => Console.WriteLine($"| {name} | {Cells(cell)} |");

        Line("radius", r => r.Radius.ToString("F4", Invariant));
        Line("links", r => r.Links.ToString(Invariant));
        Line("mean degree", r => r.MeanDegree.ToString("F2", Invariant));
        Line("convergence (virtual s)", r => r.Converged is { } c ? c.TotalSeconds.ToString("F1", Invariant) : "did not converge");
        foreach (var milestone in Milestones)
        {
            Line($"… {milestone:P0} of router pairs reach (virtual s)", r => r.PairsReachingBy.TryGetValue(milestone, out var t) ? t.TotalSeconds.ToString("F1", Invariant) : "-");
        }

        Line("control bytes / link until converged (both directions)", r => r.ConvergenceBytesPerLink.ToString("N0", Invariant));
        Line("seqno requests started until converged (all routers)", r => r.ConvergenceSeqnoRequests.ToString("N0", Invariant));
        Line("routing messages ignored until converged (all routers)", r => r.ConvergenceIgnored.ToString("N0", Invariant));
        Line("unknown proof references / proof requests until converged (all routers)", r => $"{r.ConvergenceUnknownReferences.ToString("N0", Invariant)} / {r.ConvergenceProofRequests.ToString("N0", Invariant)}");
        Line("mean routes per router at convergence", r => r.MeanRoutes.ToString("F1", Invariant));
        Line("control bytes / link / s (60 s steady state)", r => r.ControlBytesPerLinkPerSecond.ToString("N0", Invariant));
        Line("… of which hellos (from the timers)", r => r.ExpectedHelloBytesPerLinkPerSecond.ToString("N0", Invariant));
        Line("… full-table updates by proof reference, if unsliced (from the timers)", r => r.ExpectedFullUpdateBytesPerLinkPerSecond.ToString("N0", Invariant));
        Line("… routes sent in full / by reference in the 60 s (all routers)", r => $"{r.SteadyRoutesInFull.ToString("N0", Invariant)} / {r.SteadyRoutesByReference.ToString("N0", Invariant)}");
        Line("… seqno requests started / unknown proof references in the 60 s (all routers)", r => $"{r.SteadySeqnoRequests.ToString("N0", Invariant)} / {r.SteadyUnknownReferences.ToString("N0", Invariant)}");
        Line("still converged after 60 s", r => r.StayedConverged ? "yes" : "no");
        Line("reroutes measured (cuts skipped: route-less)", r => $"{r.Reroutes.Count} ({r.UnusedLinksSkipped})");
        Line("reroute min / median / max (hello intervals)", r => r.Reroutes.Count == 0 ? "-" : string.Join(" / ", new[] { r.Reroutes.Min(), Median(r.Reroutes), r.Reroutes.Max() }.Select(t => (t / r.HelloInterval).ToString("F2", Invariant))));
        Line("reroute check step (virtual ms)", r => r.RerouteStep.TotalMilliseconds.ToString("F0", Invariant));
        Line("reroutes not done within 60 s", r => r.RerouteFailures.ToString(Invariant));
        Line("loops seen", r => $"{r.LoopsAtEvents + r.LoopsAtChecks} (watched {r.LoopWatch})");
        Line("wall-clock s (CPU s): build topology", r => r.BuildWall.TotalSeconds.ToString("F1", Invariant));
        Line("wall-clock s (CPU s): until converged", r => $"{r.ConvergeWall.TotalSeconds:F1} ({r.ConvergeCpu.TotalSeconds:F1})");
        Line("… of which reachability checks / per-event loop watch (wall s)", r => $"{r.ConvergeCheckWall.TotalSeconds:F1} / {r.LoopWatchWall.TotalSeconds:F1}");
        Line("wall-clock s (CPU s): 60 virtual s of steady state", r => $"{r.SteadyWall.TotalSeconds:F1} ({r.SteadyCpu.TotalSeconds:F1})");
        Line("wall-clock s (CPU s): reroute phase", r => $"{r.RerouteWall.TotalSeconds:F1} ({r.RerouteCpu.TotalSeconds:F1})");
        Line("wall-clock s (CPU s): total", r => $"{r.TotalWall.TotalSeconds:F1} ({r.TotalCpu.TotalSeconds:F1})");
        Line("peak working set of the process (MiB)", r => (r.PeakWorkingSet / (1024.0 * 1024)).ToString("F0", Invariant));
        Line("managed heap after the run (MiB)", r => (r.ManagedHeap / (1024.0 * 1024)).ToString("F0", Invariant));
    }

    private static TimeSpan Median(List<TimeSpan> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private sealed class Result
    {
        public int Routers { get; init; }

        public double Radius { get; init; }

        public int Links { get; init; }

        public double MeanDegree { get; init; }

        public TimeSpan HelloInterval { get; init; }

        public TimeSpan BuildWall { get; init; }

        public TimeSpan? Converged { get; set; }

        public TimeSpan ConvergeWall { get; set; }

        public TimeSpan ConvergeCpu { get; set; }

        public TimeSpan LoopWatchWall { get; set; }

        public TimeSpan SteadyCpu { get; set; }

        public TimeSpan RerouteCpu { get; set; }

        public TimeSpan TotalCpu { get; set; }

        public int ConvergeChecks { get; set; }

        public TimeSpan ConvergeCheckWall { get; set; }

        public Dictionary<double, TimeSpan> PairsReachingBy { get; } = [];

        public double MeanRoutes { get; set; }

        public double ConvergenceBytesPerLink { get; set; }

        public long ConvergenceSeqnoRequests { get; set; }

        public long ConvergenceIgnored { get; set; }

        public long ConvergenceUnknownReferences { get; set; }

        public long ConvergenceProofRequests { get; set; }

        public long SteadyUnknownReferences { get; set; }

        public long SteadySeqnoRequests { get; set; }

        public long SteadyRoutesInFull { get; set; }

        public long SteadyRoutesByReference { get; set; }

        public double ControlBytesPerLinkPerSecond { get; set; }

        public double ExpectedHelloBytesPerLinkPerSecond { get; set; }

        public double ExpectedFullUpdateBytesPerLinkPerSecond { get; set; }

        public TimeSpan SteadyWall { get; set; }

        public bool StayedConverged { get; set; }

        public List<TimeSpan> Reroutes { get; } = [];

        public int RerouteFailures { get; set; }

        public int UnusedLinksSkipped { get; set; }

        public TimeSpan RerouteStep { get; set; }

        public TimeSpan RerouteWall { get; set; }

        public int LoopsAtEvents { get; set; }

        public int LoopsAtChecks { get; set; }

        public string LoopWatch { get; set; } = "";

        public int TotalChecks { get; set; }

        public TimeSpan TotalWall { get; set; }

        public long PeakWorkingSet { get; set; }

        public long ManagedHeap { get; set; }
    }
}
