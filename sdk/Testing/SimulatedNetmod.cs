using System.Threading.Channels;

namespace Router.Sdk.Testing;

/// <summary>
/// A netmod whose links exist only in memory, inside a <see cref="SimulatedNetwork"/>. It keeps
/// every rule of the <see cref="Netmod"/> contract, so the router core (or any code that drives
/// netmods) can run over it unchanged. Create it with <see cref="SimulatedNetwork.CreateNetmod"/>.
/// </summary>
/// <remarks>
/// <para>Neighbours: each live link is one neighbour. Its <see cref="NeighbourEventKind.Up"/> event
/// carries the other end's <see cref="LocalAddress"/> and <see cref="Endpoint"/>. A link is live
/// while it is up (<see cref="SimulatedNetwork.SetLinkUp"/>) and both ends are started, so
/// <see cref="StartAsync"/> reports links already up, and stopping either end reports the link
/// down on both. Each time a link comes up its ends get fresh neighbour ids; old ids are never
/// reused.</para>
/// <para>Sending: <see cref="SendAsync"/> copies the frame into a buffer from
/// <see cref="FrameBuffers"/> and completes at once, never waiting. Results: <see cref="SendResult.Stopped"/>
/// before start and after stop, <see cref="SendResult.TooLarge"/> over
/// <see cref="NetmodCapabilities.MaxFrameSize"/>, <see cref="SendResult.NoSuchNeighbour"/> for an id that
/// is not live, <see cref="SendResult.QueueFull"/> when the link's
/// <see cref="LinkProperties.QueueFrames"/> are waiting, otherwise <see cref="SendResult.Sent"/> — also
/// for a frame that will be lost, as on a real link.</para>
/// <para>Receiving: frames appear in <see cref="Incoming"/> when the network's clock reaches their
/// arrival time (see <see cref="SimulatedNetwork"/>). <see cref="Incoming"/> is bounded; a frame
/// arriving while it is full is dropped and counted in <see cref="LinkCounters.Dropped"/>, as a real
/// link drops what a slow reader cannot take. <see cref="NeighbourEvents"/> is unbounded, so no event
/// is ever lost.</para>
/// <para>Peers: <see cref="AddPeersAsync"/> takes the <see cref="Endpoint"/>s of other netmods in the
/// same network and links to each with default <see cref="LinkProperties"/>.</para>
/// <para>Thread-safety: every member may be called from any thread.</para>
/// </remarks>
public sealed class SimulatedNetmod : Netmod
{
    private readonly SimulatedNetwork _network;
    private readonly Channel<InboundFrame> _incoming;
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();

    // Guarded by the network's lock.
    private readonly Dictionary<NeighbourId, SimulatedLink> _neighbours = [];
    private readonly List<SimulatedLink> _links = [];
    private long _lastNeighbourId;

    internal SimulatedNetmod(SimulatedNetwork network, int ordinal, string name, RouterAddress localAddress, int maxFrameSize, int incomingCapacity)
    {
        _network = network;
        Ordinal = ordinal;
        LocalAddress = localAddress;
        Endpoint = $"{name}/{ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        Capabilities = new NetmodCapabilities(name, maxFrameSize, BroadcastCapable: false, LinkKind.PointToPoint);
        _incoming = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(incomingCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, // writes use TryWrite, which fails when full: a counted drop
        });
    }

    /// <summary>Whether the netmod has never started, is running, or has stopped.</summary>
    internal enum Lifecycle
    {
        Created,
        Started,
        Stopped,
    }

    /// <summary>The network this netmod belongs to.</summary>
    public SimulatedNetwork Network => _network;

    /// <summary>The router address this netmod announces; neighbours see it in their <see cref="NeighbourEventKind.Up"/> events.</summary>
    public RouterAddress LocalAddress { get; }

    /// <summary>
    /// This netmod's address in the network, <c>name/number</c> (e.g. <c>sim/3</c>), unique within
    /// the network: the <see cref="NeighbourEvent.RemoteEndpoint"/> neighbours see, and the peer
    /// syntax of <see cref="AddPeersAsync"/>.
    /// </summary>
    public string Endpoint { get; }

    /// <summary>Name and maximum frame size as created; point-to-point, not broadcast-capable.</summary>
    public override NetmodCapabilities Capabilities { get; }

    /// <summary>
    /// Frames that arrived, tagged with the neighbour id they came from. Bounded; see the class
    /// remarks for what happens when it is full. The reader owns each frame and must release it.
    /// Completed by <see cref="StopAsync"/> once the frames already in it are read.
    /// </summary>
    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    /// <summary>
    /// Links coming up and going down. Unbounded. An Up event is written before the first frame
    /// from that neighbour; exactly one Down follows each Up. Completed by <see cref="StopAsync"/>,
    /// after the Down events for every live neighbour.
    /// </summary>
    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    internal int Ordinal { get; }

    internal Lifecycle State { get; private set; }

    internal List<SimulatedLink> Links => _links;

    internal Dictionary<NeighbourId, SimulatedLink> Neighbours => _neighbours;

    /// <summary>
    /// The id this netmod currently uses for the neighbour <paramref name="peer"/>, or null when
    /// no live link joins them. Changes each time the link comes up again.
    /// </summary>
    /// <param name="peer">Another netmod of the same network.</param>
    public NeighbourId? GetNeighbourId(SimulatedNetmod peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        lock (_network.Gate)
        {
            foreach (var (id, link) in _neighbours)
            {
                if (link.Other(this) == peer)
                {
                    return id;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// Starts the netmod and brings up every link to a started netmod that is up. Idempotent
    /// while started.
    /// </summary>
    /// <param name="cancellationToken">Checked before starting.</param>
    /// <exception cref="InvalidOperationException">The netmod was stopped; create a new one instead.</exception>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _network.Start(this);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Links this netmod to other netmods of the same network, given by their
    /// <see cref="Endpoint"/>, with default <see cref="LinkProperties"/>. Netmods already linked to
    /// this one are ignored. The links come up when both ends are started.
    /// </summary>
    /// <param name="peers">Endpoints of other netmods in the network.</param>
    /// <param name="cancellationToken">Checked before adding.</param>
    /// <exception cref="ArgumentException">Some peers are not endpoints of other netmods in this network; none were added.</exception>
    /// <exception cref="InvalidOperationException">The netmod is stopped.</exception>
    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        cancellationToken.ThrowIfCancellationRequested();
        _network.AddPeers(this, peers);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Sends a frame to one neighbour; see the class remarks for the results. The frame is copied
    /// before this returns, so the caller may reuse it at once. Never waits.
    /// </summary>
    /// <param name="neighbour">A live neighbour id from <see cref="NeighbourEvents"/>.</param>
    /// <param name="frame">The frame; the caller keeps ownership.</param>
    /// <param name="cancellationToken">Unused: the send never waits.</param>
    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_network.Send(this, neighbour, frame.Span));

    /// <summary>
    /// Sends a frame to every live neighbour but <paramref name="except"/>, one copy per link, and
    /// returns how many links accepted it (zero when stopped or the frame is too large).
    /// </summary>
    /// <param name="frame">The frame; the caller keeps ownership.</param>
    /// <param name="except">A neighbour to leave out, or null.</param>
    /// <param name="cancellationToken">Unused: the send never waits.</param>
    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_network.SendAll(this, frame.Span, except));

    /// <summary>
    /// Stops the netmod: every live link goes down (a Down event on both ends, frames in flight
    /// dropped), then both channels complete. Idempotent; safe before start. A stopped netmod
    /// cannot start again.
    /// </summary>
    /// <param name="cancellationToken">Unused: stopping is immediate.</param>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _network.Stop(this);
        return Task.CompletedTask;
    }

    /// <summary>The endpoint, e.g. <c>sim/3</c>.</summary>
    public override string ToString() => Endpoint;

    // The methods below run under the network's lock.
    internal void MarkStarted() => State = Lifecycle.Started;

    internal void MarkStoppedAndComplete()
    {
        State = Lifecycle.Stopped;
        _incoming.Writer.TryComplete();
        _events.Writer.TryComplete();
    }

    internal NeighbourId AddNeighbour(SimulatedLink link)
    {
        var id = new NeighbourId(++_lastNeighbourId);
        _neighbours.Add(id, link);
        var other = link.Other(this);
        _events.Writer.TryWrite(new NeighbourEvent(NeighbourEventKind.Up, id, other.LocalAddress, other.Endpoint));
        return id;
    }

    internal void RemoveNeighbour(NeighbourId id)
    {
        if (_neighbours.Remove(id, out var link))
        {
            var other = link.Other(this);
            _events.Writer.TryWrite(new NeighbourEvent(NeighbourEventKind.Down, id, other.LocalAddress, other.Endpoint));
        }
    }

    internal bool TryDeliver(InboundFrame frame) => _incoming.Writer.TryWrite(frame);
}
