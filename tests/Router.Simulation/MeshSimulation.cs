using Router.Routing;
using Router.Sdk;
using Router.Switching;

namespace Router.Simulation;

/// <summary>
/// Many <see cref="RoutingEngine"/>s in one process on a virtual clock. Messages between
/// engines travel over simulated links with latency and loss, in timestamp order; each
/// engine's timers run as events. Deterministic for a given seed. After every event that
/// changed a router's routes, <see cref="RoutesChanged"/> runs, so a test can check the
/// forwarding state at every instant.
/// </summary>
public sealed class MeshSimulation
{
    private readonly PriorityQueue<Action, (TimeSpan, long)> _events = new();
    private readonly Dictionary<(int, int), SimLink> _links = [];
    private readonly Random _random;
    private long _sequence;

    public MeshSimulation(int routers, int seed, RoutingOptionsView? options = null)
    {
        _random = new Random(seed);
        Options = (options ?? new RoutingOptionsView()).ToOptions();
        for (var i = 0; i < routers; i++)
        {
            var bytes = new byte[RouterAddress.Length];
            _random.NextBytes(bytes);
            Routers.Add(new SimRouter(this, i, RouterAddress.Read(bytes)));
        }

        foreach (var router in Routers)
        {
            // Routers start at slightly different moments, as real ones do.
            Schedule(TimeSpan.FromMilliseconds(_random.NextDouble() * 100), router.Start);
        }
    }

    internal RoutingOptions Options { get; }

    public TimeSpan HelloInterval => Options.HelloInterval;

    public TimeSpan Now { get; private set; }

    public List<SimRouter> Routers { get; } = [];

    /// <summary>
    /// Bytes of routing traffic sent over all links: frame header included, every route but a
    /// retraction counted as the router sends it — a signed route entry (194 bytes) when the
    /// engine sends the proof in full, a route by proof reference (46 bytes) otherwise — though
    /// simulated routes carry no proof; link-layer overhead (netmod framing, link sealing) is not
    /// included. One frame header per update message: the router cuts large updates into frames
    /// of the link's size, each with its own header, so it sends a little more.
    /// </summary>
    public long ControlBytes { get; private set; }

    /// <summary>Receives a line per routing event of interest, for debugging a failing scenario.</summary>
    public Action<string>? Trace { get; set; }

    /// <summary>Called with the router whose routes changed, after the event that changed them.</summary>
    public Action<SimRouter>? RoutesChanged { get; set; }

    public IEnumerable<(int A, int B)> Links => _links.Keys.Where(k => k.Item1 < k.Item2);

    public int UpLinkCount => _links.Values.Count(l => l.Up) / 2;

    public bool IsUp(int a, int b) => _links.TryGetValue((a, b), out var link) && link.Up;

    /// <summary>Joins two routers; both see the neighbour come up (as a netmod would report).</summary>
    public void Connect(int a, int b, TimeSpan latency, double loss = 0)
    {
        if (_links.ContainsKey((a, b)))
        {
            Restore(a, b);
            return;
        }

        _links[(a, b)] = new SimLink(latency, loss);
        _links[(b, a)] = new SimLink(latency, loss);
        Restore(a, b);
    }

    /// <summary>
    /// Takes a link down. <paramref name="signalled"/>: the netmods notice at once (a TCP reset);
    /// otherwise frames just stop arriving and routing must notice by missing hellos.
    /// </summary>
    public void Cut(int a, int b, bool signalled)
    {
        _links[(a, b)].Up = false;
        _links[(b, a)].Up = false;
        if (signalled)
        {
            Routers[a].LinkDown(b);
            Routers[b].LinkDown(a);
        }
    }

    public void Restore(int a, int b)
    {
        var ab = _links[(a, b)];
        var ba = _links[(b, a)];
        if (ab.Up && Routers[a].HasNeighbour(b))
        {
            return;
        }

        ab.Up = true;
        ba.Up = true;

        // A restored link is a new netmod link: any stale neighbour state goes first.
        Routers[a].LinkDown(b);
        Routers[b].LinkDown(a);
        Routers[a].LinkUp(b);
        Routers[b].LinkUp(a);
    }

    public void SetLoss(int a, int b, double loss)
    {
        _links[(a, b)].Loss = loss;
        _links[(b, a)].Loss = loss;
    }

    public void SetLatency(int a, int b, TimeSpan latency)
    {
        _links[(a, b)].Latency = latency;
        _links[(b, a)].Latency = latency;
    }

    internal void Schedule(TimeSpan at, Action action) => _events.Enqueue(action, (at, _sequence++));

    /// <summary>Delivers a message from router <paramref name="from"/> to <paramref name="to"/> if the link carries it.</summary>
    internal void Transmit(int from, int to, int bytes, Action<SimRouter> deliver)
    {
        ControlBytes += FrameHeader.Size + bytes;
        var link = _links[(from, to)];
        if (!link.Up || (link.Loss > 0 && _random.NextDouble() < link.Loss))
        {
            return;
        }

        var target = Routers[to];
        Schedule(Now + link.Latency, () =>
        {
            // A message in flight when the link went down is lost with it.
            if (link.Up)
            {
                deliver(target);
            }
        });
    }

    /// <summary>Processes events until <paramref name="until"/> (virtual time).</summary>
    public void RunUntil(TimeSpan until)
    {
        while (_events.TryPeek(out _, out var key) && key.Item1 <= until)
        {
            var action = _events.Dequeue();
            Now = key.Item1;
            action();
        }

        Now = until;
    }

    public void RunFor(TimeSpan duration) => RunUntil(Now + duration);

    /// <summary>Runs until <paramref name="condition"/> holds (checked every <paramref name="step"/>) or the time is up; returns when it held.</summary>
    public TimeSpan? RunUntilTrue(Func<bool> condition, TimeSpan limit, TimeSpan step)
    {
        var start = Now;
        while (Now - start <= limit)
        {
            if (condition())
            {
                return Now - start;
            }

            RunFor(step);
        }

        return null;
    }

    internal void OnRoutesChanged(SimRouter router) => RoutesChanged?.Invoke(router);

    /// <summary>The router index of <paramref name="router"/>'s next hop towards <paramref name="destination"/>, or -1.</summary>
    public int NextHop(int router, int destination)
    {
        var hop = Routers[router].Engine.NextHop(Routers[destination].Address);
        return hop is null ? -1 : (int)hop.Link;
    }

    /// <summary>
    /// Follows next hops from <paramref name="from"/> towards <paramref name="destination"/>.
    /// Returns the hop count when the destination is reached over up links, -1 when the path
    /// ends or crosses a down link, and throws <see cref="RoutingLoopException"/> on a loop.
    /// </summary>
    public int PathLength(int from, int destination)
    {
        var visited = new HashSet<int>();
        var current = from;
        var hops = 0;
        while (current != destination)
        {
            if (!visited.Add(current))
            {
                throw new RoutingLoopException($"routing loop towards router {destination} through router {current} at {Now.TotalSeconds:F3} s (path from {from})");
            }

            var next = NextHop(current, destination);
            if (next < 0 || !IsUp(current, next))
            {
                return -1;
            }

            current = next;
            hops++;
        }

        return hops;
    }

    /// <summary>Throws if any router's next hops towards any destination form a loop.</summary>
    public void AssertLoopFreeFrom(int router)
    {
        for (var d = 0; d < Routers.Count; d++)
        {
            if (d != router)
            {
                PathLength(router, d);
            }
        }
    }

    public bool AllReachAll()
    {
        for (var a = 0; a < Routers.Count; a++)
        {
            for (var b = 0; b < Routers.Count; b++)
            {
                if (a != b && PathLength(a, b) < 0)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Whether every pair connected by up links (in the graph) can reach each other by routes.</summary>
    public bool AllConnectedPairsReach()
    {
        var component = Components();
        for (var a = 0; a < Routers.Count; a++)
        {
            for (var b = 0; b < Routers.Count; b++)
            {
                if (a != b && component[a] == component[b] && PathLength(a, b) < 0)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private int[] Components()
    {
        var component = Enumerable.Repeat(-1, Routers.Count).ToArray();
        var next = 0;
        for (var start = 0; start < Routers.Count; start++)
        {
            if (component[start] >= 0)
            {
                continue;
            }

            var stack = new Stack<int>([start]);
            component[start] = next;
            while (stack.TryPop(out var node))
            {
                foreach (var (a, b) in _links.Keys)
                {
                    if (a == node && _links[(a, b)].Up && component[b] < 0)
                    {
                        component[b] = next;
                        stack.Push(b);
                    }
                }
            }

            next++;
        }

        return component;
    }

    private sealed class SimLink(TimeSpan latency, double loss)
    {
        public TimeSpan Latency { get; set; } = latency;

        public double Loss { get; set; } = loss;

        public bool Up { get; set; }
    }
}

/// <summary>Timers for a simulation (public mirror of the router's internal options).</summary>
public sealed record RoutingOptionsView
{
    public TimeSpan HelloInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan UpdateInterval { get; init; } = TimeSpan.FromSeconds(4);

    internal RoutingOptions ToOptions() => new() { HelloInterval = HelloInterval, UpdateInterval = UpdateInterval };
}

public sealed class RoutingLoopException(string message) : Exception(message);
