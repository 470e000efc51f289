using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// The inet netmod: links to other routers over TCP. It listens on the configured
/// addresses, dials the configured peers and keeps them linked, and carries frames with the
/// inet link protocol (README.md next to this file).
/// </summary>
/// <remarks>
/// One <see cref="NeighbourId"/> per remote router address: when two connections to the same
/// router exist (both dialled at once), both routers keep the same one and the neighbour
/// stays up throughout. Thread-safe, as <see cref="Netmod"/> requires.
/// </remarks>
public sealed class InetEndpoint : Netmod, IPeerStatusFeature, INetmodCountersFeature, IPeerRemovalFeature
{
    private const int EventCapacity = 1024;
    private const int IncomingCapacity = 1024;

    // How long a connecting thread waits in poll() before it looks at the deadline and the token.
    private const int ConnectPollMicroseconds = 100_000;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly NetmodContext _context;
    private readonly InetOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<InboundFrame> _incoming;
    private readonly Channel<NeighbourEvent> _events;
    private readonly Routes _routes;
    private readonly InetRuntime _runtime;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _stateLock = new();
    private readonly List<PeerDialer> _dialers = [];
    private readonly HashSet<string> _knownPeers = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<Task, byte> _work = new();
    private readonly Action<Socket> _onAccepted;
    private readonly InboundAdmission _admission;
    private readonly LogThrottle _totalRefusals;
    private readonly LogThrottle _addressRefusals;
    private readonly LogThrottle _handshakeRefusals;
    private volatile EndpointState _state;
    private Server? _server;
    private Task? _stopTask;
    private int _pendingHandshakes;
    private int _liveConnections;

    internal InetEndpoint(NetmodContext context, InetOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Router.Netmods.Inet");
        Capabilities = new NetmodCapabilities(InetFactory.NetmodName, options.MaxFrameSize, BroadcastCapable: false, LinkKind.PointToPoint);
        // The router's switch runs inside a connection's write to the channel (FrameChannel), on
        // its receive thread, instead of waking another: one thread hop less per received frame,
        // measured as 7-15 % more overlay throughput and less CPU per GB (docs/PERFORMANCE.md).
        // A switch that has to wait (a full queue downstream) hands the thread back.
        _incoming = new FrameChannel(IncomingCapacity);
        _events = Channel.CreateBounded<NeighbourEvent>(new BoundedChannelOptions(EventCapacity) { FullMode = BoundedChannelFullMode.Wait });
        _routes = new Routes(context.LocalAddress, _events.Writer, context.Time, _logger);
        _runtime = new InetRuntime(options, context.LocalAddress, context.Time, _logger, _incoming.Writer, _routes, Counters, _stopping.Token);
        _onAccepted = OnAccepted;
        _admission = new InboundAdmission(options.MaxInboundConnections, options.MaxInboundConnectionsPerAddress);
        _totalRefusals = new LogThrottle(context.Time);
        _addressRefusals = new LogThrottle(context.Time);
        _handshakeRefusals = new LogThrottle(context.Time);
        foreach (var peer in options.Peers)
        {
            AddDialer(peer);
        }
    }

    private enum EndpointState
    {
        Created,
        Running,
        Stopped,
    }

    /// <inheritdoc />
    public override NetmodCapabilities Capabilities { get; }

    /// <inheritdoc />
    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    /// <inheritdoc />
    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    /// <summary>The addresses actually bound (with the ports chosen for port 0); empty before start.</summary>
    internal IReadOnlyList<IPEndPoint> ListenEndpoints => _server?.LocalEndpoints ?? [];

    /// <summary>Connections open now, in any stage (handshake, active, reserve, retiring).</summary>
    internal int LiveConnections => Volatile.Read(ref _liveConnections);

    /// <summary>Connection threads ("inet rx", "inet tx") not yet ended; for tests.</summary>
    internal int ConnectionThreads => _runtime.Threads;

    /// <summary>The live neighbours.</summary>
    internal RouteSnapshot Links => _routes.Snapshot;

    /// <summary>Everything counted so far.</summary>
    internal InetCounters Counters { get; } = new();

    /// <summary>Inbound connections open now, by the limits' reckoning.</summary>
    internal InboundAdmission Inbound => _admission;

    /// <summary>
    /// Every counter by name (<see cref="InetCounters.Snapshot"/>). Shaped for an optional
    /// SDK feature through which the router could show netmod counters; the SDK has no such
    /// feature yet, so only tests and diagnostics read this today.
    /// </summary>
    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, long>> GetCounters() => Counters.Snapshot();

    /// <inheritdoc />
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_state == EndpointState.Running)
            {
                return Task.CompletedTask;
            }

            if (_state == EndpointState.Stopped)
            {
                throw new InvalidOperationException("The inet netmod has been stopped; create a new one to start again.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var server = Server.Bind(_options.Listen);
            _server = server;
            _state = EndpointState.Running;
            foreach (var endpoint in server.LocalEndpoints)
            {
                Log.Listening(_logger, endpoint.ToString());
            }

            Track(server.RunAsync(_onAccepted, _logger, _context.Time, _stopping.Token));
            foreach (var dialer in _dialers)
            {
                Track(dialer.RunAsync(_stopping.Token));
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        cancellationToken.ThrowIfCancellationRequested();
        if (_state == EndpointState.Stopped)
        {
            throw new InvalidOperationException("The inet netmod has been stopped; it takes no more peers.");
        }

        var parsed = HostEndpoint.ParsePeers(peers, InetFactory.NetmodName);

        lock (_stateLock)
        {
            if (_state == EndpointState.Stopped)
            {
                throw new InvalidOperationException("The inet netmod has been stopped; it takes no more peers.");
            }

            foreach (var endpoint in parsed)
            {
                if (AddDialer(endpoint) is { } dialer && _state == EndpointState.Running)
                {
                    Track(dialer.RunAsync(_stopping.Token));
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask RemovePeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (_state == EndpointState.Stopped)
        {
            throw new InvalidOperationException("The inet netmod has been stopped; it has no peers to remove.");
        }

        var keys = HostEndpoint.ParsePeers(peers, InetFactory.NetmodName).Select(PeerKey).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var removed = new List<PeerDialer>();
        lock (_stateLock)
        {
            if (_state == EndpointState.Stopped)
            {
                throw new InvalidOperationException("The inet netmod has been stopped; it has no peers to remove.");
            }

            foreach (var dialer in _dialers.Where(d => keys.Contains(d.Key)).ToList())
            {
                _dialers.Remove(dialer);
                _knownPeers.Remove(dialer.Key);
                removed.Add(dialer);
            }
        }

        // Close the links the removed peers lead to, unless a peer still configured leads to
        // the same router (it keeps the link).
        var kept = GetKeptAddresses();
        foreach (var dialer in removed)
        {
            var address = dialer.Remove();
            Log.PeerRemoved(_logger, dialer.Text);
            if (!address.IsNone && !kept.Contains(address))
            {
                // The Down event is written before this returns, so the router sees the link
                // gone by the time the caller hears the peer is removed.
                await _routes.CloseNeighbourAsync(address, "the peer was removed from the configuration").AsTask().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private HashSet<RouterAddress> GetKeptAddresses()
    {
        lock (_stateLock)
        {
            return _dialers.Select(d => d.GetStatus().Address).Where(a => !a.IsNone).ToHashSet();
        }
    }

    /// <inheritdoc />
    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (_state != EndpointState.Running)
        {
            return new ValueTask<SendResult>(SendResult.Stopped);
        }

        return _routes.Snapshot.ById.TryGetValue(neighbour, out var target)
            ? target.SendAsync(frame, cancellationToken)
            : new ValueTask<SendResult>(SendResult.NoSuchNeighbour);
    }

    /// <inheritdoc />
    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken)
    {
        if (_state != EndpointState.Running)
        {
            return new ValueTask<int>(0);
        }

        var all = _routes.Snapshot.All;
        var count = 0;
        for (var i = 0; i < all.Length; i++)
        {
            if (all[i].Id == except)
            {
                continue;
            }

            var pending = all[i].SendAsync(frame, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return SendAllSlowAsync(all, i, pending, count, frame, except, cancellationToken);
            }

            if (pending.Result == SendResult.Sent)
            {
                count++;
            }
        }

        return new ValueTask<int>(count);
    }

    /// <inheritdoc />
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_stopTask is null)
            {
                _state = EndpointState.Stopped;
                _stopTask = StopCoreAsync(cancellationToken);
            }

            return _stopTask;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<PeerStatus> GetPeers()
    {
        PeerDialer[] dialers;
        lock (_stateLock)
        {
            dialers = [.. _dialers];
        }

        var result = new List<PeerStatus>(dialers.Length);
        foreach (var dialer in dialers)
        {
            result.Add(dialer.GetStatus());
        }

        foreach (var neighbour in _routes.Snapshot.All)
        {
            var active = neighbour.Active;
            if (active.Inbound)
            {
                result.Add(new PeerStatus(active.RemoteEndpoint, PeerState.Up, neighbour.Address, neighbour.Id, neighbour.UpSince, null, Inbound: true));
            }
        }

        return result;
    }

    /// <summary>
    /// Runs one connection on a thread of its own, from the first byte to the end: [connect to
    /// <paramref name="connectTo"/>], hello exchange, registration, frames. The socket is owned
    /// from here on. The task completes with how it ended; it never faults.
    /// </summary>
    /// <param name="inboundFrom">
    /// For an accepted connection, the remote address whose <see cref="InboundAdmission"/> place
    /// it holds: given back on the connection's thread as soon as the socket is closed, so a peer
    /// that reconnects at once finds its place free whatever the thread pool is doing. Null for a
    /// connection this router dials.
    /// </param>
    internal Task<ConnectionResult> RunConnectionAsync(
        Socket socket, IPAddress? inboundFrom, string remote, PeerDialer? dialer, IPEndPoint? connectTo = null, CancellationToken connectStopping = default)
    {
        var inbound = inboundFrom is not null;
        var done = new TaskCompletionSource<ConnectionResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _liveConnections);
        _runtime.ThreadStarting();
        try
        {
            var thread = new Thread(
                () =>
                {
                    try
                    {
                        var result = RunConnection(socket, inbound, remote, dialer, connectTo, connectStopping);
                        ReleaseInbound(inboundFrom);
                        _runtime.ThreadEnded();
                        done.TrySetResult(result);
                    }
                    catch (Exception e)
                    {
                        // RunConnection records its faults; nothing is expected here.
                        ReleaseInbound(inboundFrom);
                        _runtime.ThreadEnded();
                        done.TrySetResult(ConnectionResult.Failed($"{remote}: {e.Message}"));
                    }
                },
                PeerConnection.ThreadStackSize)
            {
                IsBackground = true,
                Name = $"inet rx {remote}",
            };
            thread.Start();
        }
        catch (Exception e)
        {
            _runtime.ThreadEnded();
            Log.LoopFault(_logger, $"inet connection {remote}", e);
            if (inbound)
            {
                Interlocked.Decrement(ref _pendingHandshakes);
            }

            socket.Dispose();
            Interlocked.Decrement(ref _liveConnections);
            ReleaseInbound(inboundFrom);
            done.TrySetResult(ConnectionResult.Failed($"{remote}: {e.Message}"));
        }

        return done.Task;
    }

    private void ReleaseInbound(IPAddress? inboundFrom)
    {
        if (inboundFrom is not null)
        {
            _admission.Release(inboundFrom);
        }
    }

    /// <summary>The body of a connection's thread (see <see cref="RunConnectionAsync"/>).</summary>
    private ConnectionResult RunConnection(Socket socket, bool inbound, string remote, PeerDialer? dialer, IPEndPoint? connectTo, CancellationToken connectStopping)
    {
        PeerConnection? connection = null;
        var ran = false;
        var handshaking = inbound;
        try
        {
            if (connectTo is not null && Connect(socket, connectTo, connectStopping) is { } failed)
            {
                return failed;
            }

            socket.NoDelay = true;
            connection = new PeerConnection(_runtime, socket, inbound, remote);
            var handshake = connection.ExchangeHellos();
            if (handshaking)
            {
                handshaking = false;
                Interlocked.Decrement(ref _pendingHandshakes);
            }

            if (handshake.Outcome != HandshakeOutcome.Valid)
            {
                LogHandshakeFailure(handshake, remote, inbound);
                return handshake.Outcome == HandshakeOutcome.Stopping
                    ? new ConnectionResult(ConnectionOutcome.Stopping, RouterAddress.None, TimeSpan.Zero, handshake.Detail)
                    : ConnectionResult.Failed($"{remote}: {handshake.Detail}");
            }

            if (connection.RemoteAddress == _context.LocalAddress)
            {
                if (inbound)
                {
                    Log.SelfConnection(_logger, remote);
                }

                return new ConnectionResult(ConnectionOutcome.Self, connection.RemoteAddress, TimeSpan.Zero, "this router");
            }

            // The dialer learns of the connection before the Up event goes out, so whoever reacts
            // to the event sees the peer up in GetPeers. (Until registration attaches a
            // neighbour, the dialer still reports it as connecting.)
            dialer?.OnLinked(connection);
            if (dialer is { IsRemoved: true })
            {
                return new ConnectionResult(ConnectionOutcome.Stopping, connection.RemoteAddress, TimeSpan.Zero, "the peer was removed");
            }

            // Waited for on this thread: it has nothing else to do until the connection is a link.
            if (!Wait(_routes.RegisterAsync(connection)))
            {
                return new ConnectionResult(ConnectionOutcome.Stopping, connection.RemoteAddress, TimeSpan.Zero, "the netmod is stopping");
            }

            ran = true;
            var started = _context.Time.GetTimestamp();
            connection.Run();
            Wait(_routes.ConnectionEndedAsync(connection));
            Log.ConnectionEnded(_logger, remote, connection.CloseReason);
            return new ConnectionResult(ConnectionOutcome.Linked, connection.RemoteAddress, _context.Time.GetElapsedTime(started), connection.CloseReason);
        }
        catch (Exception e)
        {
            Log.LoopFault(_logger, $"inet connection {remote}", e);
            return ConnectionResult.Failed($"{remote}: {e.Message}");
        }
        finally
        {
            if (handshaking)
            {
                Interlocked.Decrement(ref _pendingHandshakes);
            }

            if (!ran)
            {
                if (connection is null)
                {
                    socket.Dispose();
                }
                else
                {
                    connection.Discard();
                }
            }

            Interlocked.Decrement(ref _liveConnections);
        }
    }

    /// <summary>
    /// Connects <paramref name="socket"/> without the runtime's socket engine: a non-blocking
    /// connect(), then poll() for writability in short slices, looking at the deadline and the
    /// token between them. Null once connected; otherwise why not.
    /// </summary>
    private ConnectionResult? Connect(Socket socket, IPEndPoint target, CancellationToken stopping)
    {
        var time = _context.Time;
        var started = time.GetTimestamp();
        var timeout = _options.HandshakeTimeout;
        try
        {
            socket.Blocking = false;
            try
            {
                socket.Connect(target);
                return null;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                // Under way: poll() says when it is done.
            }

            while (true)
            {
                if (stopping.IsCancellationRequested)
                {
                    return new ConnectionResult(ConnectionOutcome.Stopping, RouterAddress.None, TimeSpan.Zero, "the netmod is stopping");
                }

                var left = timeout - time.GetElapsedTime(started);
                if (left <= TimeSpan.Zero)
                {
                    return ConnectFailed($"connecting to {target} timed out after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
                }

                var ready = socket.Poll((int)Math.Clamp(left.TotalMicroseconds, 1, ConnectPollMicroseconds), SelectMode.SelectWrite);
                var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                if (error != SocketError.Success)
                {
                    return ConnectFailed($"{target}: {new SocketException((int)error).Message}");
                }

                if (ready)
                {
                    return null;
                }
            }
        }
        catch (SocketException e)
        {
            return ConnectFailed($"{target}: {e.Message}");
        }

        static ConnectionResult ConnectFailed(string detail) => new(ConnectionOutcome.ConnectFailed, RouterAddress.None, TimeSpan.Zero, detail);
    }

    /// <summary>Waits on a connection's own thread for a Routes call.</summary>
    private static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    /// <summary>Waits on a connection's own thread for a Routes call.</summary>
    private static void Wait(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
        }
        else
        {
            pending.AsTask().GetAwaiter().GetResult();
        }
    }

    private static string Format(EndPoint? endpoint) => endpoint switch
    {
        IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip => new IPEndPoint(ip.Address.MapToIPv4(), ip.Port).ToString(),
        null => "unknown",
        _ => endpoint.ToString() ?? "unknown",
    };

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> SendAllSlowAsync(
        Neighbour[] all, int index, ValueTask<SendResult> pending, int count, ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken)
    {
        if (await pending.ConfigureAwait(false) == SendResult.Sent)
        {
            count++;
        }

        for (var i = index + 1; i < all.Length; i++)
        {
            if (all[i].Id != except && await all[i].SendAsync(frame, cancellationToken).ConfigureAwait(false) == SendResult.Sent)
            {
                count++;
            }
        }

        return count;
    }

    private static string PeerKey(HostEndpoint endpoint) => $"{endpoint.Address?.ToString() ?? endpoint.Host}|{endpoint.Port}";

    private PeerDialer? AddDialer(HostEndpoint endpoint)
    {
        var key = PeerKey(endpoint);
        if (!_knownPeers.Add(key))
        {
            return null;
        }

        var dialer = new PeerDialer(endpoint, key, this, _runtime);
        _dialers.Add(dialer);
        return dialer;
    }

    private void OnAccepted(Socket socket)
    {
        IPEndPoint remoteEndPoint;
        try
        {
            remoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        }
        catch (SocketException)
        {
            // Reset before we looked: nothing to talk to.
            socket.Dispose();
            return;
        }

        var remote = Format(remoteEndPoint);
        var address = remoteEndPoint.Address;
        switch (_admission.TryAdmit(address))
        {
            case Admission.TotalFull:
                Counters.CountInboundRefusedTotal();
                if (_totalRefusals.ShouldLog())
                {
                    Log.TooManyInbound(_logger, _options.MaxInboundConnections, remote, Counters.InboundRefusedTotal);
                }

                Refuse(socket);
                return;
            case Admission.AddressFull:
                Counters.CountInboundRefusedPerAddress();
                if (_addressRefusals.ShouldLog())
                {
                    Log.TooManyFromAddress(_logger, _options.MaxInboundConnectionsPerAddress, (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString(), remote, Counters.InboundRefusedPerAddress);
                }

                Refuse(socket);
                return;
        }

        if (Interlocked.Increment(ref _pendingHandshakes) > _options.MaxPendingHandshakes)
        {
            Interlocked.Decrement(ref _pendingHandshakes);
            _admission.Release(address);
            Counters.CountInboundRefusedPendingHandshakes();
            if (_handshakeRefusals.ShouldLog())
            {
                Log.TooManyHandshakes(_logger, _options.MaxPendingHandshakes, remote, Counters.InboundRefusedPendingHandshakes);
            }

            Refuse(socket);
            return;
        }

        Counters.CountInboundAccepted();
        Track(RunConnectionAsync(socket, inboundFrom: address, remote, dialer: null));
    }

    /// <summary>
    /// Closes a connection refused on accept with a reset rather than a FIN: nothing is owed to
    /// it, and no TIME_WAIT is left on this side for each connection of a flood.
    /// </summary>
    private static void Refuse(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the peer: a plain close will do.
        }

        socket.Dispose();
    }

    private void LogHandshakeFailure(HandshakeResult handshake, string remote, bool inbound)
    {
        if (handshake.Outcome is HandshakeOutcome.BadMagic or HandshakeOutcome.UnsupportedVersion or HandshakeOutcome.Invalid)
        {
            Counters.CountHandshakeRefused();
        }
        else if (handshake.Outcome == HandshakeOutcome.TimedOut && inbound)
        {
            Counters.CountHandshakeTimeout();
        }

        switch (handshake.Outcome)
        {
            case HandshakeOutcome.UnsupportedVersion:
                // Both directions: the operator on either side must learn why the link fails.
                Log.VersionMismatch(_logger, remote, handshake.Hello.Version, Handshake.ProtocolVersion);
                break;
            case HandshakeOutcome.Stopping:
                break;
            case HandshakeOutcome.BadMagic when inbound:
                Log.BadHandshake(_logger, remote);
                break;
            case HandshakeOutcome.Invalid when inbound:
                Log.InvalidHello(_logger, remote, handshake.Detail);
                break;
            case HandshakeOutcome.TimedOut when inbound:
                Log.HandshakeTimedOut(_logger, remote, _options.HandshakeTimeout.TotalSeconds);
                break;
            case var _ when inbound:
                Log.HandshakeFailed(_logger, remote, handshake.Detail);
                break;
            default:
                // Outbound: the dialer reports it, once per distinct error.
                break;
        }
    }

    private void Track(Task task)
    {
        _work.TryAdd(task, 0);
        task.ContinueWith(
            static (done, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(done, out _),
            _work,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        // Leave the caller's lock before cancelling: cancellation runs callbacks inline.
        await Task.Yield();
        using var deadline = new CancellationTokenSource(StopTimeout, _context.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);

        // Past the deadline nobody is waiting for Down events any more; stop waiting for room.
        using var abandon = linked.Token.Register(static routes => ((Routes)routes!).AbandonEvents(), _routes);
        try
        {
            _stopping.Cancel();
            _server?.Dispose();
            var pending = _work.Keys.ToArray();
            try
            {
                await Task.WhenAll(pending).WaitAsync(linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.StopTimedOut(_logger, StopTimeout.TotalSeconds);
            }

            await _routes.CloseAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.LoopFault(_logger, "inet stop", e);
        }
        finally
        {
            _incoming.Writer.TryComplete();
            _events.Writer.TryComplete();
        }
    }
}
