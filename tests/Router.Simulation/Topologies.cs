namespace Router.Simulation;

/// <summary>Builders for the standard test topologies. Latencies are in milliseconds.</summary>
public static class Topologies
{
    public static MeshSimulation Line(int n, int seed, double latencyMs = 1)
    {
        var sim = new MeshSimulation(n, seed);
        for (var i = 0; i + 1 < n; i++)
        {
            sim.Connect(i, i + 1, TimeSpan.FromMilliseconds(latencyMs));
        }

        return sim;
    }

    public static MeshSimulation Ring(int n, int seed, double latencyMs = 1)
    {
        var sim = Line(n, seed, latencyMs);
        sim.Connect(n - 1, 0, TimeSpan.FromMilliseconds(latencyMs));
        return sim;
    }

    public static MeshSimulation Grid(int width, int height, int seed, double latencyMs = 1)
    {
        var sim = new MeshSimulation(width * height, seed);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width) + x;
                if (x + 1 < width)
                {
                    sim.Connect(i, i + 1, TimeSpan.FromMilliseconds(latencyMs));
                }

                if (y + 1 < height)
                {
                    sim.Connect(i, i + width, TimeSpan.FromMilliseconds(latencyMs));
                }
            }
        }

        return sim;
    }

    /// <summary>
    /// Routers at random points in the unit square, linked when closer than
    /// <paramref name="radius"/>, latency proportional to distance; extra links join any
    /// separate pieces so the mesh is connected.
    /// </summary>
    public static MeshSimulation RandomGeometric(int n, double radius, int seed, RoutingOptionsView? options = null)
    {
        var sim = new MeshSimulation(n, seed, options);
        var random = new Random(seed ^ 0x5bd1e995);
        var points = Enumerable.Range(0, n).Select(_ => (X: random.NextDouble(), Y: random.NextDouble())).ToArray();
        double Distance(int a, int b) => Math.Sqrt(Math.Pow(points[a].X - points[b].X, 2) + Math.Pow(points[a].Y - points[b].Y, 2));
        TimeSpan Latency(int a, int b) => TimeSpan.FromMilliseconds(0.2 + (Distance(a, b) * 20));

        var union = Enumerable.Range(0, n).ToArray();
        int Find(int x) => union[x] == x ? x : union[x] = Find(union[x]);
        for (var a = 0; a < n; a++)
        {
            for (var b = a + 1; b < n; b++)
            {
                if (Distance(a, b) < radius)
                {
                    sim.Connect(a, b, Latency(a, b));
                    union[Find(a)] = Find(b);
                }
            }
        }

        // Join the pieces: link each piece to its nearest router in another piece.
        while (true)
        {
            var roots = Enumerable.Range(0, n).Select(Find).Distinct().ToList();
            if (roots.Count == 1)
            {
                break;
            }

            var piece = roots[0];
            var best = (A: -1, B: -1, D: double.MaxValue);
            for (var a = 0; a < n; a++)
            {
                if (Find(a) != piece)
                {
                    continue;
                }

                for (var b = 0; b < n; b++)
                {
                    if (Find(b) != piece && Distance(a, b) < best.D)
                    {
                        best = (a, b, Distance(a, b));
                    }
                }
            }

            sim.Connect(best.A, best.B, Latency(best.A, best.B));
            union[Find(best.A)] = Find(best.B);
        }

        return sim;
    }

    /// <summary>Random connected graph: a random spanning tree plus extra random links.</summary>
    public static MeshSimulation RandomGraph(int n, int extraLinks, int seed)
    {
        var sim = new MeshSimulation(n, seed);
        var random = new Random(seed * 7919);
        for (var i = 1; i < n; i++)
        {
            sim.Connect(i, random.Next(i), TimeSpan.FromMilliseconds(0.5 + (random.NextDouble() * 10)));
        }

        for (var k = 0; k < extraLinks; k++)
        {
            var a = random.Next(n);
            var b = random.Next(n);
            if (a != b && !sim.IsUp(a, b))
            {
                sim.Connect(a, b, TimeSpan.FromMilliseconds(0.5 + (random.NextDouble() * 10)));
            }
        }

        return sim;
    }
}
