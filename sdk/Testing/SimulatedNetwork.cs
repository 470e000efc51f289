namespace Router.Sdk.Testing;

/// <summary>
/// A network of in-memory links between <see cref="SimulatedNetmod"/>s, with latency, loss,
/// bandwidth and queue limits per link, links that go down and up like a cable, and links that
/// silently stop carrying frames. Runs many routers in one process: give every router's netmod
/// the same network and, for a virtual clock, a <see cref="ManualTimeProvider"/>.
/// </summary>
/// <remarks>
/// <para>Time: every delivery is scheduled as a timer on <see cref="Time"/>. With a
/// <see cref="ManualTimeProvider"/> nothing arrives until the test advances the clock — not even
/// over a zero-latency link, whose frames arrive on the next <see cref="ManualTimeProvider.Advance"/>
/// (<c>Advance(TimeSpan.Zero)</c> suffices) — and arrival happens inside that call, so the frame is in
/// <see cref="Netmod.Incoming"/> when it returns. With <see cref="TimeProvider.System"/> frames arrive
/// in real time, to the timer resolution (about a millisecond).</para>
/// <para>A frame of <c>n</c> bytes sent at <c>t</c> arrives at
/// <c>max(t, previous frame's end of transmission) + n·8/bandwidth + latency</c>. Frames are never
/// reordered or duplicated; see <see cref="LinkProperties"/>.</para>
/// <para>Determinism: each direction of each link draws its losses from its own random source,
/// seeded from the network's seed and the order in which links were created, so a run that
/// creates links and sends frames on each link in the same order loses the same frames.</para>
/// <para>Links are bidirectional, at most one between two netmods; a netmod may have any number.
/// Netmods may be linked before or after they start. Counters (<see cref="GetCounters"/>) are kept
/// per direction for the life of the link.</para>
/// <para>Thread-safety: every member may be called from any thread; one lock guards the whole
/// network, which is simple and fast enough for test meshes of thousands of netmods.</para>
/// </remarks>
public sealed class SimulatedNetwork
{
    private readonly Dictionary<(int, int), SimulatedLink> _links = [];
    private readonly Dictionary<string, SimulatedNetmod> _byEndpoint = new(StringComparer.Ordinal);
    private readonly List<SimulatedNetmod> _netmods = [];
    private readonly int _seed;
    private readonly long _epoch;
    private readonly bool _millisecondTimers;
    private int _linksCreated;

    /// <summary>Creates an empty network.</summary>
    /// <param name="time">The clock that schedules deliveries: a <see cref="ManualTimeProvider"/> for
    /// virtual time, or <see cref="TimeProvider.System"/> for real time.</param>
    /// <param name="seed">Seeds the loss decisions, so a run can be repeated exactly.</param>
    public SimulatedNetwork(TimeProvider time, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(time);
        Time = time;
        _seed = seed;
        _epoch = time.GetTimestamp();

        // Timers other than the manual clock's (System.Threading.Timer) truncate their due time
        // to whole milliseconds and would fire early, so deliveries on them are rounded up.
        _millisecondTimers = time is not ManualTimeProvider;
    }

    /// <summary>The clock that schedules deliveries.</summary>
    public TimeProvider Time { get; }

    /// <summary>Every netmod created in this network, in creation order.</summary>
    public IReadOnlyList<SimulatedNetmod> Netmods
    {
        get
        {
            lock (Gate)
            {
                return [.. _netmods];
            }
        }
    }

    internal Lock Gate { get; } = new();

    /// <summary>Time since the network was created, in ticks of the network's clock.</summary>
    internal long Now => Time.GetElapsedTime(_epoch).Ticks;

    /// <summary>
    /// Creates a netmod in this network, not yet started and not linked to anything.
    /// </summary>
    /// <param name="name">The netmod's name (<see cref="NetmodCapabilities.Name"/>), e.g. <c>sim</c>.</param>
    /// <param name="localAddress">The router address its neighbours see in their Up events.</param>
    /// <param name="maxFrameSize">The largest frame it sends or receives, in bytes; at least 1.
    /// A frame larger than the receiver's limit is dropped on arrival and counted.</param>
    /// <param name="incomingCapacity">How many received frames <see cref="Netmod.Incoming"/> holds
    /// before further arrivals are dropped and counted; at least 1.</param>
    public SimulatedNetmod CreateNetmod(string name, RouterAddress localAddress, int maxFrameSize = 1500, int incomingCapacity = 1024)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrameSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(incomingCapacity, 1);
        lock (Gate)
        {
            var netmod = new SimulatedNetmod(this, _netmods.Count + 1, name, localAddress, maxFrameSize, incomingCapacity);
            _netmods.Add(netmod);
            _byEndpoint.Add(netmod.Endpoint, netmod);
            return netmod;
        }
    }

    /// <summary>
    /// Links <paramref name="a"/> and <paramref name="b"/> with the same properties in both
    /// directions. The link is up; it becomes live, with Up events on both ends, as soon as both
    /// netmods are started (at once if they already are).
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    /// <param name="properties">Latency, loss, bandwidth and queue; a perfect link when null.</param>
    /// <exception cref="ArgumentException">An end belongs to another network, or both ends are the same netmod.</exception>
    /// <exception cref="InvalidOperationException">The two netmods are already linked.</exception>
    public void Link(SimulatedNetmod a, SimulatedNetmod b, LinkProperties? properties = null)
    {
        CheckPair(a, b);
        lock (Gate)
        {
            if (_links.ContainsKey(Key(a, b)))
            {
                throw new InvalidOperationException($"{a} and {b} are already linked.");
            }

            AddLink(a, b, properties ?? new LinkProperties());
        }
    }

    /// <summary>
    /// Removes the link between <paramref name="a"/> and <paramref name="b"/>: if it was live, both
    /// ends get a Down event; frames in flight are dropped. Its counters are discarded.
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public void Unlink(SimulatedNetmod a, SimulatedNetmod b)
    {
        CheckPair(a, b);
        lock (Gate)
        {
            var link = Find(a, b);
            TakeDown(link);
            link.AToB.Close();
            link.BToA.Close();
            a.Links.Remove(link);
            b.Links.Remove(link);
            _links.Remove(Key(a, b));
        }
    }

    /// <summary>
    /// Takes the link down or brings it back, as if a cable were pulled or plugged in: both ends
    /// notice and report a Down (frames in flight are dropped) or an Up event with fresh neighbour
    /// ids. Bringing it up has no effect until both ends are started. Setting the current state
    /// again does nothing.
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    /// <param name="up">True to bring the link up, false to take it down.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public void SetLinkUp(SimulatedNetmod a, SimulatedNetmod b, bool up)
    {
        CheckPair(a, b);
        lock (Gate)
        {
            var link = Find(a, b);
            link.AdministrativelyUp = up;
            if (up)
            {
                TryBringUp(link);
            }
            else
            {
                TakeDown(link);
            }
        }
    }

    /// <summary>
    /// Makes the link lose every frame sent on it, in both directions, while both ends still see
    /// the neighbour: no event reports it, so code above must detect the failure itself (by
    /// hellos or keepalives). Frames already on the wire still arrive. Silent frames count as
    /// <see cref="LinkCounters.Lost"/>. For a failure in one direction only, set
    /// <see cref="LinkProperties.Loss"/> to 1 with <see cref="SetOneWayProperties"/>.
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    /// <param name="silent">True to drop everything from now on, false to carry frames again.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public void SetLinkSilent(SimulatedNetmod a, SimulatedNetmod b, bool silent)
    {
        CheckPair(a, b);
        lock (Gate)
        {
            Find(a, b).Silent = silent;
        }
    }

    /// <summary>
    /// Changes the properties of both directions of a link. Frames sent from now on use them;
    /// frames already queued or on the wire keep their timing.
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    /// <param name="properties">The new properties.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public void SetProperties(SimulatedNetmod a, SimulatedNetmod b, LinkProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        CheckPair(a, b);
        lock (Gate)
        {
            var link = Find(a, b);
            link.AToB.Properties = properties;
            link.BToA.Properties = properties;
        }
    }

    /// <summary>
    /// Changes the properties of the direction from <paramref name="from"/> to
    /// <paramref name="to"/> only, for asymmetric links (e.g. loss in one direction). Frames sent
    /// from now on use them.
    /// </summary>
    /// <param name="from">The sending end.</param>
    /// <param name="to">The receiving end.</param>
    /// <param name="properties">The new properties of that direction.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public void SetOneWayProperties(SimulatedNetmod from, SimulatedNetmod to, LinkProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        CheckPair(from, to);
        lock (Gate)
        {
            Find(from, to).From(from).Properties = properties;
        }
    }

    /// <summary>
    /// Whether the link between <paramref name="a"/> and <paramref name="b"/> is live: up, both
    /// ends started, each end seeing the other as a neighbour. False when they are not linked.
    /// </summary>
    /// <param name="a">One end.</param>
    /// <param name="b">The other end.</param>
    public bool IsLinkLive(SimulatedNetmod a, SimulatedNetmod b)
    {
        CheckPair(a, b);
        lock (Gate)
        {
            return _links.TryGetValue(Key(a, b), out var link) && link.Live;
        }
    }

    /// <summary>
    /// The counters of the direction from <paramref name="from"/> to <paramref name="to"/> since
    /// the link was created. Add both directions for the whole link.
    /// </summary>
    /// <param name="from">The sending end.</param>
    /// <param name="to">The receiving end.</param>
    /// <exception cref="InvalidOperationException">The two netmods are not linked.</exception>
    public LinkCounters GetCounters(SimulatedNetmod from, SimulatedNetmod to)
    {
        CheckPair(from, to);
        lock (Gate)
        {
            return Find(from, to).From(from).Counters;
        }
    }

    /// <summary>The delay to give a delivery timer for a frame due in <paramref name="ticks"/>.</summary>
    internal TimeSpan TimerDelay(long ticks)
    {
        if (ticks <= 0)
        {
            return TimeSpan.Zero;
        }

        if (_millisecondTimers)
        {
            ticks = (ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond * TimeSpan.TicksPerMillisecond;
        }

        return new TimeSpan(ticks);
    }

    internal void Start(SimulatedNetmod netmod)
    {
        lock (Gate)
        {
            switch (netmod.State)
            {
                case SimulatedNetmod.Lifecycle.Started:
                    return;
                case SimulatedNetmod.Lifecycle.Stopped:
                    throw new InvalidOperationException($"{netmod} is stopped and cannot start again; create a new netmod.");
            }

            netmod.MarkStarted();
            foreach (var link in netmod.Links)
            {
                TryBringUp(link);
            }
        }
    }

    internal void Stop(SimulatedNetmod netmod)
    {
        lock (Gate)
        {
            if (netmod.State == SimulatedNetmod.Lifecycle.Stopped)
            {
                return;
            }

            foreach (var link in netmod.Links)
            {
                TakeDown(link);
            }

            netmod.MarkStoppedAndComplete();
        }
    }

    internal void AddPeers(SimulatedNetmod netmod, IReadOnlyList<string> peers)
    {
        lock (Gate)
        {
            if (netmod.State == SimulatedNetmod.Lifecycle.Stopped)
            {
                throw new InvalidOperationException($"{netmod} is stopped.");
            }

            var found = new List<SimulatedNetmod>(peers.Count);
            var errors = new List<string>();
            foreach (var peer in peers)
            {
                if (peer is not null && _byEndpoint.TryGetValue(peer.Trim(), out var other) && other != netmod)
                {
                    found.Add(other);
                }
                else
                {
                    errors.Add($"'{peer}' is not the endpoint of another netmod in this network (e.g. sim/2)");
                }
            }

            if (errors.Count > 0)
            {
                throw new ArgumentException(string.Join("; ", errors), nameof(peers));
            }

            foreach (var other in found)
            {
                if (!_links.ContainsKey(Key(netmod, other)))
                {
                    AddLink(netmod, other, new LinkProperties());
                }
            }
        }
    }

    internal SendResult Send(SimulatedNetmod sender, NeighbourId neighbour, ReadOnlySpan<byte> frame)
    {
        lock (Gate)
        {
            if (sender.State != SimulatedNetmod.Lifecycle.Started)
            {
                return SendResult.Stopped;
            }

            if (frame.Length > sender.Capabilities.MaxFrameSize)
            {
                return SendResult.TooLarge;
            }

            return sender.Neighbours.TryGetValue(neighbour, out var link)
                ? link.From(sender).Send(frame, Now)
                : SendResult.NoSuchNeighbour;
        }
    }

    internal int SendAll(SimulatedNetmod sender, ReadOnlySpan<byte> frame, NeighbourId? except)
    {
        lock (Gate)
        {
            if (sender.State != SimulatedNetmod.Lifecycle.Started || frame.Length > sender.Capabilities.MaxFrameSize)
            {
                return 0;
            }

            var now = Now;
            var count = 0;
            foreach (var (id, link) in sender.Neighbours)
            {
                if (id != except && link.From(sender).Send(frame, now) == SendResult.Sent)
                {
                    count++;
                }
            }

            return count;
        }
    }

    private static (int, int) Key(SimulatedNetmod a, SimulatedNetmod b) =>
        a.Ordinal < b.Ordinal ? (a.Ordinal, b.Ordinal) : (b.Ordinal, a.Ordinal);

    private void CheckPair(SimulatedNetmod a, SimulatedNetmod b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Network != this || b.Network != this)
        {
            throw new ArgumentException("Both netmods must belong to this network.");
        }

        if (a == b)
        {
            throw new ArgumentException($"{a} cannot be linked to itself.");
        }
    }

    private SimulatedLink Find(SimulatedNetmod a, SimulatedNetmod b) =>
        _links.TryGetValue(Key(a, b), out var link) ? link : throw new InvalidOperationException($"{a} and {b} are not linked.");

    private void AddLink(SimulatedNetmod a, SimulatedNetmod b, LinkProperties properties)
    {
        // Each link's random sources depend only on the seed and the link's creation order.
        var seed = unchecked((_seed * 1_000_003) + (++_linksCreated * 7_919));
        var link = new SimulatedLink(this, a, b, properties, seed);
        _links.Add(Key(a, b), link);
        a.Links.Add(link);
        b.Links.Add(link);
        TryBringUp(link);
    }

    private static void TryBringUp(SimulatedLink link)
    {
        if (link.Live
            || !link.AdministrativelyUp
            || link.A.State != SimulatedNetmod.Lifecycle.Started
            || link.B.State != SimulatedNetmod.Lifecycle.Started)
        {
            return;
        }

        link.Live = true;
        link.IdAtA = link.A.AddNeighbour(link);
        link.IdAtB = link.B.AddNeighbour(link);
    }

    private static void TakeDown(SimulatedLink link)
    {
        if (!link.Live)
        {
            return;
        }

        link.Live = false;
        link.A.RemoveNeighbour(link.IdAtA);
        link.B.RemoveNeighbour(link.IdAtB);
        link.AToB.Clear();
        link.BToA.Clear();
    }
}
