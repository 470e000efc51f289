// The control side of the udp netmod: one loop that owns every neighbour, path and configured
// peer, and is the only writer of the LinkTable the frame paths read.
//
// It handles, one message at a time:
//   hello / hello-ack   from a receive thread (parsed, address copied): create or refresh the
//                       neighbour and path, answer a hello with a hello-ack
//   beacon              from the discovery socket: hello a router we do not know yet
//   stranger            a data or keepalive datagram from no neighbour's path: hello it (rate
//                       limited), so a peer that restarted or forgot us re-links at once
//   tick                from a timer: keepalives, dead paths, hellos to configured peers on
//                       their backoff schedule, DNS refreshes, interface re-scans and beacons
//   peers added / resolved   from AddPeersAsync and DNS lookups
//   peers removed       from RemovePeersAsync: their links close, and their addresses are
//                       no longer greeted as strangers (else their keepalives would re-link them)
//
// Ordering rules that the SDK contract needs: a new neighbour is published in the table, then
// its Up event is written, then it is marked announced — sends work as soon as Up is read, and
// the receive threads deliver none of its frames before that mark, so no frame precedes Up. Its
// Down event is written after the table without it is published and after no receive thread is
// still delivering one of its frames (Neighbour.MarkGone + LinkSocket.IsDelivering), so no
// frame follows Down.
//
// Limits against hostile hosts (README.md, "Limits against hostile hosts"): the receive threads
// ask TryTakeHandshakeToken / TryTakeStrangerToken (per source address) before posting
// anything here, and OnHelloAsync admits a path that no configured peer accounts for only
// while MaxInboundPaths and MaxInboundPathsPerAddress allow; such paths are counted in
// _inboundPaths from creation until RemovePathAsync or CloseAsync.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>What a <see cref="ControlMessage"/> asks the control loop to do.</summary>
internal enum ControlKind
{
    Tick,
    Hello,
    HelloAck,
    Beacon,
    Stranger,
    PeersAdded,
    Resolved,
    PeersRemoved,
}

/// <summary>One unit of work for the control loop. See the comment at the top of this file.</summary>
internal readonly record struct ControlMessage(
    ControlKind Kind,
    int SocketIndex = -1,
    SocketAddress? From = null,
    ParseStatus Status = ParseStatus.Valid,
    LinkHello Hello = default,
    Beacon Beacon = default,
    ConfiguredPeer? Peer = null,
    IPAddress[]? Addresses = null,
    string? Error = null,
    ConfiguredPeer[]? Removed = null,
    TaskCompletionSource? Done = null);

/// <summary>The neighbours, paths and configured peers of one <see cref="UdpEndpoint"/>. See the comment at the top of this file.</summary>
internal sealed class Links
{
    /// <summary>How often a DNS name is looked up again.</summary>
    public static readonly TimeSpan ResolveInterval = TimeSpan.FromSeconds(30);

    // Control datagrams wait here; past this the receive threads drop them (counted) rather than
    // block. A hello lost this way is retried by its sender like one lost on the wire.
    private const int ControlCapacity = 1024;

    // Distinct version-mismatch complaints remembered, so each is logged once at Warning.
    private const int MaxRememberedComplaints = 1024;

    private readonly UdpOptions _options;
    private readonly RouterAddress _local;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ChannelWriter<NeighbourEvent> _events;
    private readonly UdpCounters _counters;
    private readonly Channel<ControlMessage> _control;
    private readonly CancellationTokenSource _eventsAbort = new();
    private readonly Lock _peersLock = new();
    private readonly HashSet<string> _peerKeys = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<Neighbour> _neighbours = [];
    private readonly Dictionary<RouterAddress, Neighbour> _byAddress = [];
    private readonly HashSet<string> _complaints = new(StringComparer.Ordinal);
    private readonly byte[] _scratch = new byte[Wire.HelloSize];
    private readonly RateLimit _strangerHellos;
    private readonly RateLimit _beaconHellos;
    private readonly SourceRateLimit _handshakesBySource;
    private readonly SourceRateLimit _strangersBySource;
    private readonly Dictionary<SourceKey, int> _inboundPaths = [];
    private readonly HashSet<(int Socket, SocketAddress Address)> _forgotten = [];
    private readonly LogThrottle _totalRefusals;
    private readonly LogThrottle _addressRefusals;
    private int _inboundPathCount;
    private volatile ConfiguredPeer[] _peers = [];
    private LinkTable _table = LinkTable.Empty;
    private LinkSocket[] _sockets = [];
    private Discovery? _discovery;
    private byte[] _beaconV6 = [];
    private byte[] _beaconV4 = [];
    private CancellationToken _stopping;
    private long _lastId;
    private long _nextBeacon;
    private int _tickPending;
    private bool _closed;

    public Links(UdpOptions options, RouterAddress local, TimeProvider time, ILogger logger, ChannelWriter<NeighbourEvent> events, UdpCounters counters)
    {
        _options = options;
        _local = local;
        _time = time;
        _logger = logger;
        _events = events;
        _counters = counters;
        _control = Channel.CreateBounded<ControlMessage>(new BoundedChannelOptions(ControlCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });

        // Enough for a LAN's worth of routers re-linking at once; little enough that nobody can
        // make this router a useful amplifier (a 45-byte hello per datagram received, at most this often).
        _strangerHellos = new RateLimit(time, perSecond: 20, burst: 20);
        _beaconHellos = new RateLimit(time, perSecond: 20, burst: 20);
        _handshakesBySource = new SourceRateLimit(time, options.HandshakeRatePerAddress, options.HandshakeBurstPerAddress);

        // One source may not take the whole stranger budget above; one answer per round trip
        // is all a peer that forgot us needs.
        _strangersBySource = new SourceRateLimit(time, perSecond: 2, burst: 2);
        _totalRefusals = new LogThrottle(time);
        _addressRefusals = new LogThrottle(time);
    }

    /// <summary>The live neighbours and paths. Lock-free; never changes once read.</summary>
    public LinkTable Table => Volatile.Read(ref _table);

    /// <summary>The configured peers, in the order added.</summary>
    public IReadOnlyList<ConfiguredPeer> Peers => _peers;

    /// <summary>
    /// Queues a message for the control loop without waiting. Returns false, counting it, when
    /// the loop is that far behind (the datagram is dropped, as a full socket buffer would).
    /// </summary>
    public bool TryPost(in ControlMessage message)
    {
        if (_control.Writer.TryWrite(message))
        {
            return true;
        }

        _counters.CountControlQueueFull();
        return false;
    }

    /// <summary>Paths open now that count against the inbound path limits. Read by tests.</summary>
    public int InboundPathCount => Volatile.Read(ref _inboundPathCount);

    /// <summary>Sources tracked by the per-address handshake rate limit. Read by tests.</summary>
    public int HandshakeSources => _handshakesBySource.Count;

    /// <summary>
    /// Whether a datagram from a stranger may be answered with a hello now: its source is
    /// under its own limit and all strangers together under theirs. The receive threads ask
    /// before copying its address, so a flood of strangers costs no allocation.
    /// </summary>
    public bool TryTakeStrangerToken(SocketAddress from) =>
        _strangersBySource.TryTake(SourceKey.From(from)) && _strangerHellos.TryTake();

    /// <summary>
    /// Whether a hello, hello-ack or beacon from <paramref name="from"/> may go to the control
    /// loop: its source address is under <see cref="UdpOptions.HandshakeRatePerAddress"/>.
    /// Asked by the receive threads before copying the address; allocates nothing.
    /// </summary>
    public bool TryTakeHandshakeToken(SocketAddress from) => _handshakesBySource.TryTake(SourceKey.From(from));

    /// <summary>Adds peers not already known; returns how many were new. Any thread, before or after start.</summary>
    public int AddPeers(IEnumerable<HostEndpoint> endpoints)
    {
        var added = 0;
        lock (_peersLock)
        {
            var peers = new List<ConfiguredPeer>(_peers);
            foreach (var endpoint in endpoints)
            {
                var key = $"{endpoint.Address?.ToString() ?? endpoint.Host}|{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
                if (_peerKeys.Add(key))
                {
                    peers.Add(new ConfiguredPeer(endpoint, _options, _time.GetUtcNow()));
                    added++;
                }
            }

            _peers = [.. peers];
        }

        if (added > 0)
        {
            // If the queue is full the next tick greets them anyway: NextAttempt is 0.
            _control.Writer.TryWrite(new ControlMessage(ControlKind.PeersAdded));
        }

        return added;
    }

    /// <summary>
    /// Forgets peers; the control loop closes their links. Completes when it has (or at once if
    /// none of them was known). Any thread, before or after start.
    /// </summary>
    public Task RemovePeers(IEnumerable<HostEndpoint> endpoints)
    {
        var keys = endpoints.Select(PeerKey).ToHashSet(StringComparer.OrdinalIgnoreCase);
        ConfiguredPeer[] removed;
        lock (_peersLock)
        {
            removed = Array.FindAll(_peers, p => keys.Contains(PeerKey(p.Endpoint)));
            if (removed.Length == 0)
            {
                return Task.CompletedTask;
            }

            _peers = Array.FindAll(_peers, p => !removed.Contains(p));
            foreach (var peer in removed)
            {
                _peerKeys.Remove(PeerKey(peer.Endpoint));
            }
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Before start (or after stop) no loop runs: there are no links to close.
        if (_stopping == default || _stopping.IsCancellationRequested || !_control.Writer.TryWrite(new ControlMessage(ControlKind.PeersRemoved, Removed: removed, Done: done)))
        {
            return _stopping == default ? Task.CompletedTask : WriteRemovalAsync(removed, done);
        }

        return done.Task;
    }

    private async Task WriteRemovalAsync(ConfiguredPeer[] removed, TaskCompletionSource done)
    {
        try
        {
            await _control.Writer.WriteAsync(new ControlMessage(ControlKind.PeersRemoved, Removed: removed, Done: done), _stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return;
        }

        await done.Task.ConfigureAwait(false);
    }

    private static string PeerKey(HostEndpoint endpoint) =>
        $"{endpoint.Address?.ToString() ?? endpoint.Host}|{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Closes the links of removed peers that no remaining peer leads to. Control loop only.</summary>
    private async ValueTask OnPeersRemovedAsync(ControlMessage message)
    {
        try
        {
            var table = Table;
            var kept = new HashSet<Neighbour>();
            foreach (var peer in _peers)
            {
                foreach (var target in peer.Targets)
                {
                    if (table.Find(target.Socket.Index, target.Address) is { } path)
                    {
                        kept.Add(path.Neighbour);
                    }
                }
            }

            foreach (var peer in message.Removed ?? [])
            {
                Log.PeerRemoved(_logger, peer.Text);
                if (_forgotten.Count >= MaxRememberedComplaints)
                {
                    _forgotten.Clear();
                }

                var closing = new HashSet<Neighbour>();
                foreach (var target in peer.Targets)
                {
                    _forgotten.Add((target.Socket.Index, target.Address));
                    if (Table.Find(target.Socket.Index, target.Address) is { } path && !kept.Contains(path.Neighbour))
                    {
                        closing.Add(path.Neighbour);
                    }
                }

                foreach (var neighbour in closing)
                {
                    foreach (var path in neighbour.Paths)
                    {
                        _forgotten.Add((path.Socket.Index, path.Remote));
                        await RemovePathAsync(path, "the peer was removed from the configuration").ConfigureAwait(false);
                    }
                }
            }
        }
        finally
        {
            message.Done?.TrySetResult();
        }
    }

    /// <summary>
    /// Runs the control loop over <paramref name="sockets"/> (the link sockets, by index) until
    /// <paramref name="stopping"/> is cancelled. Never throws.
    /// </summary>
    public Task RunAsync(LinkSocket[] sockets, Discovery? discovery, CancellationToken stopping)
    {
        _sockets = sockets;
        _discovery = discovery;
        _stopping = stopping;
        Volatile.Write(ref _table, new LinkTable([], sockets.Length));
        if (discovery is not null)
        {
            var v6 = Array.Find(sockets, s => s.Family == AddressFamily.InterNetworkV6 && s.Wildcard);
            var v4 = Array.Find(sockets, s => (s.Family == AddressFamily.InterNetwork && s.Wildcard) || s.DualStack);
            _beaconV6 = v6 is null ? [] : Beacon(v6.LocalEndPoint.Port);
            _beaconV4 = v4 is null ? [] : Beacon(v4.LocalEndPoint.Port);
            Log.DiscoveryStarted(
                _logger,
                Discovery.Group.ToString(),
                _options.DiscoveryPort,
                _options.DiscoveryInterval.TotalSeconds,
                v6?.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture) ?? "none",
                v4?.LocalEndPoint.Port.ToString(CultureInfo.InvariantCulture) ?? "none");
        }

        return RunCoreAsync(stopping);
    }

    /// <summary>
    /// Reports every live neighbour down and publishes an empty table. Call once, after the
    /// control loop and the receive threads have ended. Waits for event space until <see cref="AbandonEvents"/>.
    /// </summary>
    public async Task CloseAsync()
    {
        _closed = true;
        var all = _neighbours.ToArray();
        _neighbours.Clear();
        _byAddress.Clear();
        _inboundPaths.Clear();
        Volatile.Write(ref _inboundPathCount, 0);
        Publish();
        foreach (var neighbour in all)
        {
            await ReportDownAsync(neighbour, "the netmod stopped").ConfigureAwait(false);
        }
    }

    /// <summary>Stops waiting for room in a full event channel (nobody is reading it).</summary>
    public void AbandonEvents() => _eventsAbort.Cancel();

    /// <summary>A snapshot of configured peers and of every other live neighbour. Thread-safe.</summary>
    public IReadOnlyList<PeerStatus> GetPeers()
    {
        var result = new List<PeerStatus>();
        var covered = new HashSet<NeighbourId>();
        foreach (var peer in _peers)
        {
            var status = peer.GetStatus();
            result.Add(status);
            if (status.Neighbour is { } id)
            {
                covered.Add(id);
            }
        }

        foreach (var neighbour in Table.All)
        {
            if (!covered.Contains(neighbour.Id))
            {
                result.Add(new PeerStatus(neighbour.RemoteEndpoint, PeerState.Up, neighbour.Address, neighbour.Id, neighbour.UpSince, null, neighbour.Inbound));
            }
        }

        return result;
    }

    private async Task RunCoreAsync(CancellationToken stopping)
    {
        await Task.Yield();
        var timer = _time.CreateTimer(static state => ((Links)state!).OnTimer(), this, TimeSpan.Zero, TickPeriod(_options));
        try
        {
            var reader = _control.Reader;
            while (await reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    try
                    {
                        await HandleAsync(message).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                    {
                        Log.LoopFault(_logger, "udp control loop", e);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped.
        }
        catch (Exception e)
        {
            Log.LoopFault(_logger, "udp control loop", e);
        }
        finally
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A tick often enough to notice a dead path or a due hello within a fraction of its
    /// interval, rarely enough to cost nothing measurable when idle.
    /// </summary>
    private static TimeSpan TickPeriod(UdpOptions options)
    {
        var shortest = Math.Min(Math.Min(options.Keepalive.Ticks, options.DeadPeerTimeout.Ticks / 2), options.ReconnectMin.Ticks);
        if (options.Discovery)
        {
            shortest = Math.Min(shortest, options.DiscoveryInterval.Ticks);
        }

        return TimeSpan.FromTicks(Math.Clamp(shortest / 4, TimeSpan.TicksPerMillisecond * 10, TimeSpan.TicksPerMillisecond * 250));
    }

    private void OnTimer()
    {
        // One tick in the queue at a time: a busy loop catches up with one, not a backlog.
        if (Interlocked.Exchange(ref _tickPending, 1) == 0 && !_control.Writer.TryWrite(new ControlMessage(ControlKind.Tick)))
        {
            Volatile.Write(ref _tickPending, 0);
        }
    }

    private async ValueTask HandleAsync(ControlMessage message)
    {
        switch (message.Kind)
        {
            case ControlKind.Tick:
                Volatile.Write(ref _tickPending, 0);
                await TickAsync().ConfigureAwait(false);
                break;
            case ControlKind.Hello:
            case ControlKind.HelloAck:
                await OnHelloAsync(message).ConfigureAwait(false);
                break;
            case ControlKind.Beacon:
                OnBeacon(message);
                break;
            case ControlKind.Stranger:
                OnStranger(message);
                break;
            case ControlKind.PeersAdded:
                GreetPeers(_time.GetTimestamp());
                break;
            case ControlKind.Resolved:
                OnResolved(message);
                break;
            case ControlKind.PeersRemoved:
                await OnPeersRemovedAsync(message).ConfigureAwait(false);
                break;
        }
    }

    private async ValueTask TickAsync()
    {
        var now = _time.GetTimestamp();
        List<(LinkPath Path, TimeSpan Silent)>? dead = null;
        foreach (var neighbour in _neighbours)
        {
            foreach (var path in neighbour.Paths)
            {
                if (path.TakeHeard())
                {
                    path.LastHeard = now;
                }

                if (path.TakeSent())
                {
                    path.LastSent = now;
                }

                var silent = _time.GetElapsedTime(path.LastHeard, now);
                if (silent >= _options.DeadPeerTimeout)
                {
                    (dead ??= []).Add((path, silent));
                }
                else if (_time.GetElapsedTime(path.LastSent, now) >= _options.Keepalive)
                {
                    _scratch[0] = (byte)DatagramType.Keepalive;
                    Send(path.Socket, path.Remote, _scratch.AsSpan(0, 1));
                    path.LastSent = now;
                }
            }
        }

        if (dead is not null)
        {
            foreach (var (path, silent) in dead)
            {
                var seconds = Math.Round(silent.TotalSeconds, 1);
                Log.PathSilent(_logger, path.Neighbour.Address.ToShortString(), path.Display, seconds);
                await RemovePathAsync(path, $"silent for {seconds.ToString(CultureInfo.InvariantCulture)} s").ConfigureAwait(false);
            }
        }

        GreetPeers(now);
        if (_discovery is not null && now >= _nextBeacon)
        {
            _discovery.Rescan();
            _discovery.SendBeacons(_beaconV6, _beaconV4);
            _nextBeacon = Later(now, _options.DiscoveryInterval);
        }
    }

    /// <summary>Sends a round of hellos to every configured peer that is due one.</summary>
    private void GreetPeers(long now)
    {
        foreach (var peer in _peers)
        {
            if (peer.IsSelf)
            {
                continue;
            }

            if (peer.Endpoint.Address is { } literal)
            {
                if (peer.NextResolve != long.MaxValue)
                {
                    // A peer added while already linked (it greeted us first) is Up at once.
                    peer.NextResolve = long.MaxValue;
                    SetTargets(peer, [literal]);
                    UpdatePeerState(peer, Table, _time.GetUtcNow(), null);
                }
            }
            else if (!peer.Resolving && now >= peer.NextResolve)
            {
                StartResolve(peer);
            }

            if (peer.IsUp || now < peer.NextAttempt || peer.Targets.Count == 0)
            {
                continue;
            }

            var delay = peer.Backoff.Next();
            if (peer.Refusal is { } refusal)
            {
                peer.SetError(refusal);
            }
            else if (peer.Unanswered > 0)
            {
                var error = $"{(peer.DownReason is { } down ? down + "; " : string.Empty)}no answer to {peer.Unanswered.ToString(CultureInfo.InvariantCulture)} hello(s) sent to {string.Join(", ", peer.Targets.Select(t => t.Display))}";
                var delaySeconds = Math.Round(delay.TotalSeconds, 1);
                if (peer.Unanswered == 1)
                {
                    // Said once at Information; repeats go to Debug.
                    Log.PeerUnanswered(_logger, peer.Text, error, delaySeconds);
                }
                else
                {
                    Log.PeerUnansweredAgain(_logger, peer.Text, error, delaySeconds);
                }

                peer.SetError(error);
            }

            foreach (var target in peer.Targets)
            {
                SendHello(target.Socket, target.Address, DatagramType.Hello);
            }

            peer.Unanswered++;
            peer.NextAttempt = Later(now, delay);
        }
    }

    private void StartResolve(ConfiguredPeer peer)
    {
        peer.Resolving = true;
        _ = ResolveAsync(peer);
    }

    private async Task ResolveAsync(ConfiguredPeer peer)
    {
        ControlMessage result;
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(peer.Endpoint.Host, _stopping).ConfigureAwait(false);
            result = addresses.Length == 0
                ? new ControlMessage(ControlKind.Resolved, Peer: peer, Error: $"'{peer.Endpoint.Host}' resolves to no address")
                : new ControlMessage(ControlKind.Resolved, Peer: peer, Addresses: addresses);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            result = new ControlMessage(ControlKind.Resolved, Peer: peer, Error: $"cannot resolve '{peer.Endpoint.Host}': {e.Message}");
        }

        try
        {
            await _control.Writer.WriteAsync(result, _stopping).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // Stopping: nobody needs the answer.
        }
    }

    private void OnResolved(ControlMessage message)
    {
        var peer = message.Peer!;
        peer.Resolving = false;
        var now = _time.GetTimestamp();
        if (message.Error is { } error)
        {
            if (peer.Targets.Count == 0)
            {
                // Nothing to greet until a lookup works: retry lookups on the hello schedule.
                var delay = peer.Backoff.Next();
                peer.NextResolve = Later(now, delay);
                ReportPeerProblem(peer, error, $"; looking up again in {Math.Round(delay.TotalSeconds, 1).ToString(CultureInfo.InvariantCulture)} s");
                peer.SetError(error);
            }
            else
            {
                // Keep greeting the addresses it had.
                peer.NextResolve = Later(now, ResolveInterval);
                Log.PeerProblemAgain(_logger, peer.Text, error);
            }

            return;
        }

        peer.NextResolve = Later(now, ResolveInterval);
        SetTargets(peer, message.Addresses!);
        UpdatePeerStates(null);
        if (!peer.IsUp)
        {
            peer.NextAttempt = now;
            GreetPeers(now);
        }
    }

    private void SetTargets(ConfiguredPeer peer, IReadOnlyList<IPAddress> addresses)
    {
        var targets = new List<PeerTarget>();
        foreach (var address in addresses)
        {
            var socket = Array.Find(_sockets, s => s.Family == address.AddressFamily && s.CanReach(address))
                ?? Array.Find(_sockets, s => s.CanReach(address));
            if (socket is not null)
            {
                var endpoint = new IPEndPoint(address, peer.Endpoint.Port);
                targets.Add(new PeerTarget(socket, socket.AddressFor(endpoint), LinkSocket.Format(endpoint)));
            }
        }

        if (targets.Count == 0)
        {
            var error = $"no listen socket can reach {string.Join(", ", addresses)}";
            ReportPeerProblem(peer, error);
            peer.SetError(error);
        }

        peer.Targets = targets;
    }

    private async ValueTask OnHelloAsync(ControlMessage message)
    {
        if ((uint)message.SocketIndex >= (uint)_sockets.Length || message.From is not { } from)
        {
            return;
        }

        var socket = _sockets[message.SocketIndex];
        var isHello = message.Kind == ControlKind.Hello;
        var hello = message.Hello;

        // A removed peer that greets us itself wants the link: it is a stranger no more.
        _forgotten.Remove((socket.Index, from));
        if (message.Status == ParseStatus.UnsupportedVersion)
        {
            // Answer once (never a hello: two versions would hello each other forever) so the
            // other side learns our version and refuses too, naming both.
            if (isHello)
            {
                SendHello(socket, from, DatagramType.HelloAck);
            }

            var display = LinkSocket.Format(from);
            if (Remember($"{display}|{hello.Version.ToString(CultureInfo.InvariantCulture)}"))
            {
                Log.VersionMismatch(_logger, display, hello.Version, Wire.ProtocolVersion);
            }
            else
            {
                Log.VersionMismatchAgain(_logger, display, hello.Version, Wire.ProtocolVersion);
            }

            foreach (var peer in PeersAt(socket, from))
            {
                peer.Refusal = $"speaks udp protocol v{hello.Version.ToString(CultureInfo.InvariantCulture)}, this router speaks v{Wire.ProtocolVersion.ToString(CultureInfo.InvariantCulture)}";
                peer.SetError(peer.Refusal);
            }

            return;
        }

        if (hello.Address == _local)
        {
            // Our own hello come back: a peer entry naming this router, or a loop in the network.
            Log.SelfHello(_logger, LinkSocket.Format(from));
            foreach (var peer in PeersAt(socket, from))
            {
                Log.PeerIsSelf(_logger, peer.Text, _local.ToString());
                peer.IsSelf = true;
                peer.SetAddress(_local);
                peer.SetConnecting("this is this router's own address", _time.GetUtcNow());
            }

            return;
        }

        var maxSend = (int)Math.Min((uint)_options.MaxFrameSize, hello.MaxFrameSize);
        var path = Table.Find(socket.Index, from);
        if (path is not null)
        {
            if (path.Neighbour.Address == hello.Address)
            {
                // A repeat (our answer was lost, or the peer restarted): refresh and answer.
                path.MarkHeard();
                path.Neighbour.MaxSendFrame = maxSend;
                if (isHello)
                {
                    SendHello(socket, from, DatagramType.HelloAck);
                }

                UpdatePeerStates(null);
                return;
            }

            Log.EndpointChangedRouter(_logger, path.Display, hello.Address.ToString(), path.Neighbour.Address.ToString());
            await RemovePathAsync(path, $"its endpoint now answers as {hello.Address.ToShortString()}").ConfigureAwait(false);
        }

        if (_closed)
        {
            return;
        }

        // A new path. One to a configured peer is always welcome; any other is state a
        // stranger asked for, and is bounded.
        SourceKey? inbound = null;
        if (!PeersAt(socket, from).Any())
        {
            var source = SourceKey.From(from);
            if (!TryAdmitInboundPath(source, from))
            {
                return;
            }

            inbound = source;
        }

        var now = _time.GetTimestamp();
        if (!_byAddress.TryGetValue(hello.Address, out var neighbour))
        {
            neighbour = new Neighbour(new NeighbourId(++_lastId), hello.Address, inbound: isHello, _time.GetUtcNow()) { MaxSendFrame = maxSend };
            neighbour.Paths = [new LinkPath(socket, from, neighbour, now) { InboundSource = inbound }];
            Log.LinkUp(_logger, neighbour.Address.ToString(), neighbour.RemoteEndpoint, isHello ? "inbound" : "outbound", neighbour.Id.Value);

            // Publish, then Up, then deliver: whoever reads the Up event can send at once, and
            // no frame from it reaches the router before its Up event.
            // Peer status too, so GetPeers agrees with the event.
            _neighbours.Add(neighbour);
            _byAddress.Add(neighbour.Address, neighbour);
            Publish();
            UpdatePeerStates(null);
            await WriteEventAsync(new NeighbourEvent(NeighbourEventKind.Up, neighbour.Id, neighbour.Address, neighbour.RemoteEndpoint)).ConfigureAwait(false);
            neighbour.MarkAnnounced();
        }
        else
        {
            neighbour.Paths = [.. neighbour.Paths, new LinkPath(socket, from, neighbour, now) { InboundSource = inbound }];
            neighbour.MaxSendFrame = maxSend;
            Log.PathAdded(_logger, neighbour.Address.ToShortString(), LinkSocket.Format(from), neighbour.Id.Value, neighbour.Paths.Length);
            Publish();
            UpdatePeerStates(null);
        }

        if (isHello)
        {
            SendHello(socket, from, DatagramType.HelloAck);
        }
    }

    private void OnBeacon(ControlMessage message)
    {
        var beacon = message.Beacon;
        var from = message.From!;
        if (message.Status == ParseStatus.UnsupportedVersion)
        {
            var display = LinkSocket.Format(from);
            if (Remember($"beacon|{display}|{beacon.Version.ToString(CultureInfo.InvariantCulture)}"))
            {
                Log.BeaconVersion(_logger, display, beacon.Version, Wire.ProtocolVersion);
            }

            return;
        }

        // Our own beacon looped back, or a router we already link with.
        if (beacon.Address == _local || _byAddress.ContainsKey(beacon.Address))
        {
            return;
        }

        IPEndPoint source;
        try
        {
            source = LinkSocket.ToEndPoint(from);
        }
        catch (Exception e) when (e is ArgumentException or SocketException)
        {
            return;
        }

        var ip = source.Address.IsIPv4MappedToIPv6 ? source.Address.MapToIPv4() : source.Address;

        // Beacons only ever travel link-local; an IPv6 one from a routed address is not from this LAN.
        if (ip.AddressFamily == AddressFamily.InterNetworkV6 && !ip.IsIPv6LinkLocal)
        {
            return;
        }

        var socket = Array.Find(_sockets, s => s.Family == ip.AddressFamily && s.CanReach(ip)) ?? Array.Find(_sockets, s => s.CanReach(ip));
        if (socket is null)
        {
            return;
        }

        var target = new IPEndPoint(ip, beacon.Port);
        var address = socket.AddressFor(target);
        if (Table.Find(socket.Index, address) is not null || !_beaconHellos.TryTake())
        {
            return;
        }

        Log.BeaconHeard(_logger, beacon.Address.ToShortString(), LinkSocket.Format(source), LinkSocket.Format(target));
        SendHello(socket, address, DatagramType.Hello);
    }

    private void OnStranger(ControlMessage message)
    {
        if ((uint)message.SocketIndex >= (uint)_sockets.Length || message.From is not { } from)
        {
            return;
        }

        var socket = _sockets[message.SocketIndex];
        if (Table.Find(socket.Index, from) is null && !_forgotten.Contains((socket.Index, from)))
        {
            Log.StrangerGreeted(_logger, "data or keepalive", LinkSocket.Format(from));
            SendHello(socket, from, DatagramType.Hello);
        }
    }

    /// <summary>
    /// Takes a place under the inbound path limits for a new path from <paramref name="source"/>,
    /// or counts and (now and then) logs the refusal. Control loop only.
    /// </summary>
    private bool TryAdmitInboundPath(SourceKey source, SocketAddress from)
    {
        if (_inboundPathCount >= _options.MaxInboundPaths)
        {
            _counters.CountPathRefusedTotal();
            if (_totalRefusals.ShouldLog())
            {
                Log.TooManyInboundPaths(_logger, _options.MaxInboundPaths, LinkSocket.Format(from), _counters.PathsRefusedTotal);
            }

            return false;
        }

        _inboundPaths.TryGetValue(source, out var count);
        if (count >= _options.MaxInboundPathsPerAddress)
        {
            _counters.CountPathRefusedPerAddress();
            if (_addressRefusals.ShouldLog())
            {
                Log.TooManyPathsFromAddress(_logger, _options.MaxInboundPathsPerAddress, source.ToString(), LinkSocket.Format(from), _counters.PathsRefusedPerAddress);
            }

            return false;
        }

        _inboundPaths[source] = count + 1;
        Volatile.Write(ref _inboundPathCount, _inboundPathCount + 1);
        return true;
    }

    /// <summary>Gives back the place a removed path held under the inbound path limits. Control loop only.</summary>
    private void ReleaseInboundPath(LinkPath path)
    {
        if (path.InboundSource is not { } source || !_inboundPaths.TryGetValue(source, out var count))
        {
            return;
        }

        // Entries leave with their last path: the table is as large as the sources linked now.
        if (count <= 1)
        {
            _inboundPaths.Remove(source);
        }
        else
        {
            _inboundPaths[source] = count - 1;
        }

        Volatile.Write(ref _inboundPathCount, _inboundPathCount - 1);
    }

    private async ValueTask RemovePathAsync(LinkPath path, string reason)
    {
        ReleaseInboundPath(path);
        var neighbour = path.Neighbour;
        var remaining = Array.FindAll(neighbour.Paths, p => p != path);
        if (remaining.Length > 0)
        {
            neighbour.Paths = remaining;
            Publish();
            Log.PathRemoved(_logger, neighbour.Address.ToShortString(), path.Display, reason, neighbour.Id.Value, remaining.Length);
            UpdatePeerStates(reason);
            return;
        }

        // The last path: its Paths stay as they are, so a send racing with this still has a path.
        _neighbours.Remove(neighbour);
        _byAddress.Remove(neighbour.Address);
        Publish();
        UpdatePeerStates(reason);
        await ReportDownAsync(neighbour, reason).ConfigureAwait(false);
    }

    private async ValueTask ReportDownAsync(Neighbour neighbour, string reason)
    {
        neighbour.MarkGone();

        // Pairs with the fence in LinkSocket.EnterDelivery: after this, a receive thread either
        // sees the neighbour gone, or is seen here still delivering and is waited for.
        Interlocked.MemoryBarrier();
        foreach (var socket in _sockets)
        {
            var spin = default(SpinWait);
            while (socket.IsDelivering(neighbour))
            {
                spin.SpinOnce();
            }
        }

        Log.LinkDown(_logger, neighbour.Address.ToString(), neighbour.RemoteEndpoint, neighbour.Id.Value, reason);
        await WriteEventAsync(new NeighbourEvent(NeighbourEventKind.Down, neighbour.Id, neighbour.Address, neighbour.RemoteEndpoint)).ConfigureAwait(false);
    }

    /// <summary>Brings each configured peer's Up/Connecting state in line with the table.</summary>
    private void UpdatePeerStates(string? downReason)
    {
        var table = Table;
        var utcNow = _time.GetUtcNow();
        foreach (var peer in _peers)
        {
            UpdatePeerState(peer, table, utcNow, downReason);
        }
    }

    private void UpdatePeerState(ConfiguredPeer peer, LinkTable table, DateTimeOffset utcNow, string? downReason)
    {
        if (peer.IsSelf)
        {
            return;
        }

        LinkPath? path = null;
        foreach (var target in peer.Targets)
        {
            if ((path = table.Find(target.Socket.Index, target.Address)) is not null)
            {
                break;
            }
        }

        if (path is not null)
        {
            if (!peer.IsUp)
            {
                peer.Backoff.Reset();
                peer.Unanswered = 0;
                peer.LoggedError = null;
                peer.Refusal = null;
                peer.DownReason = null;
            }

            peer.SetUp(path.Neighbour, utcNow);
        }
        else if (peer.IsUp)
        {
            // Greet it again at once, from the shortest delay.
            peer.DownReason = $"link down: {downReason ?? "path lost"}";
            peer.SetConnecting(peer.DownReason, utcNow);
            peer.Backoff.Reset();
            peer.NextAttempt = 0;
        }
    }

    private IEnumerable<ConfiguredPeer> PeersAt(LinkSocket socket, SocketAddress from)
    {
        foreach (var peer in _peers)
        {
            foreach (var target in peer.Targets)
            {
                if (target.Socket == socket && target.Address.Equals(from))
                {
                    yield return peer;
                    break;
                }
            }
        }
    }

    /// <summary>Logs a peer's problem at Information the first time, at Debug while it repeats.</summary>
    private void ReportPeerProblem(ConfiguredPeer peer, string error, string detail = "")
    {
        if (peer.LoggedError == error)
        {
            Log.PeerProblemAgain(_logger, peer.Text, error + detail);
            return;
        }

        peer.LoggedError = error;
        Log.PeerProblem(_logger, peer.Text, error + detail);
    }

    private bool Remember(string complaint)
    {
        if (_complaints.Count >= MaxRememberedComplaints)
        {
            _complaints.Clear();
        }

        return _complaints.Add(complaint);
    }

    private byte[] Beacon(int port)
    {
        var beacon = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(beacon, _local, port);
        return beacon;
    }

    private void SendHello(LinkSocket socket, SocketAddress to, DatagramType type)
    {
        var length = Wire.WriteHello(_scratch, type, _local, _options.MaxFrameSize);
        Send(socket, to, _scratch.AsSpan(0, length));
        if (Table.Find(socket.Index, to) is { } path)
        {
            path.LastSent = _time.GetTimestamp();
        }
    }

    /// <summary>Sends a control datagram without waiting, as the frame path does (SegmentedIo.Send).</summary>
    private void Send(LinkSocket socket, SocketAddress to, ReadOnlySpan<byte> datagram)
    {
        try
        {
            switch (SegmentedIo.Send(socket.Socket, datagram, to, out var error))
            {
                case SegmentedIo.Outcome.WouldBlock:
                    // The send buffer is full: lost, like any datagram.
                    _counters.CountSendBufferFull();
                    break;
                case SegmentedIo.Outcome.Failed:
                    _counters.CountSendError();
                    Log.SendFailed(_logger, LinkSocket.Format(to), SegmentedIo.Describe(error));
                    break;
            }
        }
        catch (ObjectDisposedException)
        {
            // Stopping.
        }
    }

    private async ValueTask WriteEventAsync(NeighbourEvent neighbourEvent)
    {
        if (_events.TryWrite(neighbourEvent))
        {
            return;
        }

        try
        {
            await _events.WriteAsync(neighbourEvent, _eventsAbort.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            // Stopping and nobody reads the events any more: the event has no audience.
        }
    }

    private void Publish() => Volatile.Write(ref _table, new LinkTable([.. _neighbours], _sockets.Length));

    private long Later(long now, TimeSpan delay) => now + (long)(delay.TotalSeconds * _time.TimestampFrequency);
}
