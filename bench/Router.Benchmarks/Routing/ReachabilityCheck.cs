using Router.Simulation;

namespace Router.Benchmarks.Routing;

/// <summary>
/// Whether every router reaches every other by following next hops over up links — the same
/// question as <see cref="MeshSimulation.AllReachAll"/>, answered in O(n²) next-hop look-ups
/// instead of O(n² · path length): per destination, each router's walk stops at the first
/// router already known to reach it, so every router is visited once per destination.
/// A walk that comes back to itself is a routing loop; it is counted, not thrown.
/// </summary>
internal sealed class ReachabilityCheck(MeshSimulation simulation)
{
    private const byte Unknown = 0;
    private const byte OnPath = 1;
    private const byte Reaches = 2;
    private const byte Fails = 3;

    private readonly byte[] _state = new byte[simulation.Routers.Count];
    private readonly List<int> _path = [];

    /// <summary>Checks seen with a loop (at the instants checked; not every event).</summary>
    public int LoopsSeen { get; private set; }

    /// <summary>Wall-clock time spent checking, to separate it from simulation time.</summary>
    public TimeSpan Spent { get; private set; }

    public int Checks { get; private set; }

    public bool AllReachAll()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            Checks++;
            return Run();
        }
        finally
        {
            Spent += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        }
    }

    /// <summary>The fraction of ordered (source, destination) pairs whose next hops lead to the destination.</summary>
    public double ReachableFraction()
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Checks++;
        var n = _state.Length;
        long reached = 0;
        var loop = false;
        for (var destination = 0; destination < n; destination++)
        {
            Array.Clear(_state);
            _state[destination] = Reaches;
            for (var source = 0; source < n; source++)
            {
                _path.Clear();
                var current = source;
                var outcome = Unknown;
                while (_state[current] == Unknown)
                {
                    _state[current] = OnPath;
                    _path.Add(current);
                    var next = simulation.NextHop(current, destination);
                    if (next < 0 || !simulation.IsUp(current, next))
                    {
                        outcome = Fails;
                        break;
                    }

                    current = next;
                }

                if (outcome == Unknown)
                {
                    outcome = _state[current] == OnPath ? Fails : _state[current];
                    loop |= _state[current] == OnPath;
                }

                foreach (var router in _path)
                {
                    _state[router] = outcome;
                }

                if (source != destination && outcome == Reaches)
                {
                    reached++;
                }
            }
        }

        if (loop)
        {
            LoopsSeen++;
        }

        Spent += System.Diagnostics.Stopwatch.GetElapsedTime(started);
        return (double)reached / ((long)n * (n - 1));
    }

    private bool Run()
    {
        var n = _state.Length;
        for (var destination = 0; destination < n; destination++)
        {
            Array.Clear(_state);
            _state[destination] = Reaches;
            for (var source = 0; source < n; source++)
            {
                _path.Clear();
                var current = source;
                while (_state[current] == Unknown)
                {
                    _state[current] = OnPath;
                    _path.Add(current);
                    var next = simulation.NextHop(current, destination);
                    if (next < 0 || !simulation.IsUp(current, next))
                    {
                        return false;
                    }

                    current = next;
                }

                if (_state[current] == OnPath)
                {
                    LoopsSeen++;
                    return false;
                }

                foreach (var router in _path)
                {
                    _state[router] = Reaches;
                }
            }
        }

        return true;
    }
}
