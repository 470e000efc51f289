using System.Net;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>Where a configured peer's hellos go: one resolved address, from the socket that can reach it.</summary>
/// <param name="Socket">The link socket to send from (and that answers arrive on).</param>
/// <param name="Address">The socket address, in the form that socket's receives report.</param>
/// <param name="Display">The address as people write it.</param>
internal sealed record PeerTarget(LinkSocket Socket, SocketAddress Address, string Display);

/// <summary>
/// One peer from <c>Peers</c> or <see cref="Netmod.AddPeersAsync"/>: greeted with hellos on a
/// <see cref="Backoff"/> schedule until one of its addresses answers, then Up while a path to
/// one of them lives; greeted again, from the shortest delay, when the last such path dies.
/// </summary>
/// <remarks>
/// DNS names are resolved when the peer is added and again every <see cref="Links.ResolveInterval"/>
/// (sooner, on the backoff schedule, while resolution fails), so a peer that moves is found.
/// The control loop owns every field but the status, which <see cref="GetStatus"/> reads under a lock.
/// </remarks>
internal sealed class ConfiguredPeer
{
    private readonly Lock _lock = new();
    private PeerState _state = PeerState.Connecting;
    private DateTimeOffset _since;
    private string? _lastError;
    private RouterAddress _address;
    private NeighbourId? _neighbour;

    public ConfiguredPeer(HostEndpoint endpoint, UdpOptions options, DateTimeOffset now)
    {
        Endpoint = endpoint;
        Text = endpoint.ToString();
        Backoff = new Backoff(options.ReconnectMin, options.ReconnectMax);
        _since = now;
    }

    public HostEndpoint Endpoint { get; }

    /// <summary>The peer as configured.</summary>
    public string Text { get; }

    /// <summary>Delays between unanswered hellos. Control loop only.</summary>
    public Backoff Backoff { get; }

    /// <summary>Where hellos go; empty until resolved. Control loop only.</summary>
    public IReadOnlyList<PeerTarget> Targets { get; set; } = [];

    /// <summary>When to send the next round of hellos (a TimeProvider timestamp). Control loop only.</summary>
    public long NextAttempt { get; set; }

    /// <summary>When to resolve the name next; <see cref="long.MaxValue"/> for IP literals. Control loop only.</summary>
    public long NextResolve { get; set; }

    /// <summary>A resolution is running. Control loop only.</summary>
    public bool Resolving { get; set; }

    /// <summary>Hello rounds sent since the peer last answered. Control loop only.</summary>
    public int Unanswered { get; set; }

    /// <summary>The last problem logged at Information, so repeats go to Debug. Control loop only.</summary>
    public string? LoggedError { get; set; }

    /// <summary>
    /// Why the peer's last answer was refused (another protocol version), so later rounds report
    /// that rather than "no answer". Cleared when it links. Control loop only.
    /// </summary>
    public string? Refusal { get; set; }

    /// <summary>
    /// Why its link last went down, kept in front of later "no answer" errors until it links
    /// again, so the status says both what happened and what is happening. Control loop only.
    /// </summary>
    public string? DownReason { get; set; }

    /// <summary>The peer turned out to be this router; it is never greeted again. Control loop only.</summary>
    public bool IsSelf { get; set; }

    /// <summary>Whether the peer's link is up. Control loop only (it is the only writer).</summary>
    public bool IsUp
    {
        get
        {
            lock (_lock)
            {
                return _state == PeerState.Up;
            }
        }
    }

    /// <summary>Records a link over one of the peer's addresses.</summary>
    public void SetUp(Neighbour neighbour, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_state != PeerState.Up || _neighbour != neighbour.Id)
            {
                _since = now;
            }

            _state = PeerState.Up;
            _address = neighbour.Address;
            _neighbour = neighbour.Id;
            _lastError = null;
        }
    }

    /// <summary>Records that the peer is being greeted (again), and why if there is a reason.</summary>
    public void SetConnecting(string? error, DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_state != PeerState.Connecting)
            {
                _since = now;
            }

            _state = PeerState.Connecting;
            _neighbour = null;
            _lastError = error ?? _lastError;
        }
    }

    /// <summary>Records why the peer is not linked, leaving the state as it is.</summary>
    public void SetError(string error)
    {
        lock (_lock)
        {
            _lastError = error;
        }
    }

    /// <summary>Records the router address a peer answered with (also when that is this router).</summary>
    public void SetAddress(RouterAddress address)
    {
        lock (_lock)
        {
            _address = address;
        }
    }

    /// <summary>A snapshot of where this peer stands. Thread-safe.</summary>
    public PeerStatus GetStatus()
    {
        lock (_lock)
        {
            return new PeerStatus(Text, _state, _address, _neighbour, _since, _lastError, Inbound: false);
        }
    }
}
