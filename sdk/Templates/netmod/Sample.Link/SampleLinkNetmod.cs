using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Sample.Link;

/// <summary>
/// A link over UDP unicast: one socket, hellos to configured peers, and every router that says
/// hello becomes a neighbour (see <see cref="Wire"/> for the datagrams). Frames are sent as they
/// come, one per datagram, and may be lost like any datagram; the router above copes.
/// </summary>
/// <remarks>
/// <para>Threads: one receive loop (hellos, data, byes, in arrival order, so a neighbour's Up
/// event is always written before its first frame; the router handles a data frame inside the
/// loop's write to <see cref="Incoming"/> when it is not busy, see <see cref="FrameChannel"/>),
/// one hello loop (greets peers and neighbours, declares silent neighbours down), and the
/// router's sends from any thread.</para>
/// <para>Locking: <see cref="_gate"/> guards the lifecycle, the peer list, and every change to
/// the neighbour tables together with the event it reports, so events come out in the order
/// the changes happened. Sends and the receive path only read the concurrent tables and take
/// no lock.</para>
/// </remarks>
public sealed class SampleLinkNetmod : Netmod
{
    private readonly SampleLinkOptions _options;
    private readonly RouterAddress _localAddress;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogThrottle _resolveWarnings;
    private readonly FrameChannel _incoming = new(1024); // written with TryWrite, which may run the router's handling of the frame; a full channel drops
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();
    private readonly ConcurrentDictionary<NeighbourId, Neighbour> _byId = new();
    private readonly ConcurrentDictionary<SocketAddress, Neighbour> _byAddress = new();
    private readonly List<HostEndpoint> _peers = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private volatile Lifecycle _state;
    private Socket? _socket;
    private Task _loops = Task.CompletedTask;
    private Task? _stopTask;
    private long _lastNeighbourId;

    internal SampleLinkNetmod(NetmodContext context, SampleLinkOptions options)
    {
        _options = options;
        _localAddress = context.LocalAddress;
        _time = context.Time;
        _logger = context.LoggerFactory.CreateLogger<SampleLinkNetmod>();
        _resolveWarnings = new LogThrottle(_time, TimeSpan.FromMinutes(1));
        _peers.AddRange(options.Peers);
        Capabilities = new NetmodCapabilities(SampleLinkFactory.NetmodName, options.MaxFrameSize, BroadcastCapable: false, LinkKind.PointToPoint);
    }

    private enum Lifecycle
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

    /// <summary>The address the socket is bound to while running (with the port chosen for port 0), else null.</summary>
    public IPEndPoint? LocalEndpoint => _state == Lifecycle.Running ? _socket?.LocalEndPoint as IPEndPoint : null;

    /// <inheritdoc />
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_state == Lifecycle.Running)
            {
                return Task.CompletedTask;
            }

            if (_state == Lifecycle.Stopped)
            {
                throw new InvalidOperationException($"The {SampleLinkFactory.NetmodName} netmod has been stopped; create a new one to start again.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var listen = _options.Listen.ToIPEndPoint();
            var socket = new Socket(listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                if (listen.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true; // [::] also serves IPv4 peers
                }

                socket.Bind(listen);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _socket = socket;
            _state = Lifecycle.Running;
            _loops = Task.WhenAll(
                Task.Run(() => ReceiveAsync(socket, _stopping.Token), CancellationToken.None),
                Task.Run(() => HelloAsync(socket, _stopping.Token), CancellationToken.None));
            Log.Listening(_logger, socket.LocalEndPoint!.ToString()!);
            return Task.CompletedTask;
        }
    }

    /// <inheritdoc />
    public override async ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        cancellationToken.ThrowIfCancellationRequested();
        ThrowIfStopped();
        var parsed = HostEndpoint.ParsePeers(peers, SampleLinkFactory.NetmodName);
        List<HostEndpoint> added = [];
        lock (_gate)
        {
            ThrowIfStopped();
            foreach (var peer in parsed)
            {
                if (!_peers.Contains(peer))
                {
                    _peers.Add(peer);
                    added.Add(peer);
                }
            }
        }

        // Greet the new peers now rather than at the next hello round.
        if (_state == Lifecycle.Running && _socket is { } socket)
        {
            var hello = Hello();
            foreach (var peer in added)
            {
                if (await ResolveAsync(peer, socket.AddressFamily, cancellationToken).ConfigureAwait(false) is { } target)
                {
                    await SendQuietlyAsync(socket, hello, target.Serialize(), cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <inheritdoc />
    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (_state != Lifecycle.Running || _socket is not { } socket)
        {
            return ValueTask.FromResult(SendResult.Stopped);
        }

        if (frame.Length > _options.MaxFrameSize)
        {
            return ValueTask.FromResult(SendResult.TooLarge);
        }

        return _byId.TryGetValue(neighbour, out var target)
            ? SendDataAsync(socket, target, frame, cancellationToken)
            : ValueTask.FromResult(SendResult.NoSuchNeighbour);
    }

    /// <inheritdoc />
    public override async ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken)
    {
        if (_state != Lifecycle.Running || _socket is not { } socket || frame.Length > _options.MaxFrameSize)
        {
            return 0;
        }

        var count = 0;
        foreach (var neighbour in _byId.Values)
        {
            if (neighbour.Id != except && await SendDataAsync(socket, neighbour, frame, cancellationToken).ConfigureAwait(false) == SendResult.Sent)
            {
                count++;
            }
        }

        return count;
    }

    /// <inheritdoc />
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _state = Lifecycle.Stopped;
            return _stopTask ??= Task.Run(() => StopCoreAsync(cancellationToken), CancellationToken.None);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        // Say bye so neighbours drop the link at once instead of after DeadPeerSeconds; skipped
        // when the caller is in a hurry.
        if (_socket is { } socket && !cancellationToken.IsCancellationRequested)
        {
            foreach (var neighbour in _byId.Values)
            {
                await SendQuietlyAsync(socket, new[] { Wire.Bye }, neighbour.Address, cancellationToken).ConfigureAwait(false);
            }
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        await _loops.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        lock (_gate)
        {
            foreach (var neighbour in _byId.Values)
            {
                RemoveLocked(neighbour, "this netmod stopped");
            }

            _incoming.Writer.TryComplete();
            _events.Writer.TryComplete();
        }

        _stopping.Dispose();
    }

    /// <summary>Reads datagrams until the socket closes. One buffer for all of them; each frame is copied into a pooled buffer the router returns.</summary>
    private async Task ReceiveAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[65_536];
        var from = new SocketAddress(socket.AddressFamily);
        while (!cancellationToken.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveFromAsync(buffer, SocketFlags.None, from, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Log.ReceiveFailed(_logger, e.Message);
                continue;
            }

            if (length == 0)
            {
                continue;
            }

            switch (buffer[0])
            {
                case Wire.Hello when length == Wire.HelloSize:
                    await OnHelloAsync(socket, from, RouterAddress.Read(buffer.AsSpan(1, RouterAddress.Length)), cancellationToken).ConfigureAwait(false);
                    break;
                case Wire.Data when length > 1 && length - 1 <= _options.MaxFrameSize:
                    OnData(from, buffer.AsSpan(1, length - 1));
                    break;
                case Wire.Bye:
                    OnBye(from);
                    break;
                default:
                    break; // not ours, or malformed: ignored
            }
        }
    }

    private async Task OnHelloAsync(Socket socket, SocketAddress from, RouterAddress router, CancellationToken cancellationToken)
    {
        Neighbour? added = null;
        lock (_gate)
        {
            if (_state != Lifecycle.Running)
            {
                return;
            }

            if (_byAddress.TryGetValue(from, out var known))
            {
                if (known.Router == router)
                {
                    known.Heard(_time.GetTimestamp());
                    return;
                }

                RemoveLocked(known, "another router now answers at its address");
            }

            var endpoint = (IPEndPoint)new IPEndPoint(from.Family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Create(from);
            added = new Neighbour(new NeighbourId(++_lastNeighbourId), endpoint.Serialize(), endpoint, router, _time.GetTimestamp());
            _byId[added.Id] = added;
            _byAddress[added.Address] = added;
            _events.Writer.TryWrite(new NeighbourEvent(NeighbourEventKind.Up, added.Id, router, endpoint.ToString()));
            Log.NeighbourUp(_logger, endpoint.ToString());
        }

        // Answer a new neighbour at once, so its side comes up without waiting for our next round.
        await SendQuietlyAsync(socket, Hello(), added.Address, cancellationToken).ConfigureAwait(false);
    }

    private void OnData(SocketAddress from, ReadOnlySpan<byte> frame)
    {
        if (!_byAddress.TryGetValue(from, out var neighbour))
        {
            return; // no hello yet: the contract says Up comes before any frame
        }

        neighbour.Heard(_time.GetTimestamp());
        var buffer = FrameBuffers.Rent(frame.Length);
        frame.CopyTo(buffer);
        if (!_incoming.Writer.TryWrite(new InboundFrame(neighbour.Id, buffer, frame.Length)))
        {
            FrameBuffers.Return(buffer); // the router is behind (or we stopped): dropped, like a full queue
        }
    }

    private void OnBye(SocketAddress from)
    {
        lock (_gate)
        {
            if (_byAddress.TryGetValue(from, out var neighbour))
            {
                RemoveLocked(neighbour, "it stopped");
            }
        }
    }

    /// <summary>Every HelloSeconds: greets peers and neighbours, and drops neighbours not heard from for DeadPeerSeconds.</summary>
    private async Task HelloAsync(Socket socket, CancellationToken cancellationToken)
    {
        var hello = Hello();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                HostEndpoint[] peers;
                lock (_gate)
                {
                    peers = [.. _peers];
                }

                foreach (var peer in peers)
                {
                    if (await ResolveAsync(peer, socket.AddressFamily, cancellationToken).ConfigureAwait(false) is { } target)
                    {
                        await SendQuietlyAsync(socket, hello, target.Serialize(), cancellationToken).ConfigureAwait(false);
                    }
                }

                foreach (var neighbour in _byId.Values)
                {
                    await SendQuietlyAsync(socket, hello, neighbour.Address, cancellationToken).ConfigureAwait(false);
                }

                lock (_gate)
                {
                    var now = _time.GetTimestamp();
                    foreach (var neighbour in _byId.Values)
                    {
                        if (_time.GetElapsedTime(neighbour.LastHeard, now) > _options.DeadPeer)
                        {
                            RemoveLocked(neighbour, $"nothing heard for {NetmodConfigReader.FormatSeconds(_options.DeadPeer)} s");
                        }
                    }
                }

                await Task.Delay(_options.Hello, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Removes a neighbour and reports it down. Caller holds <see cref="_gate"/>.</summary>
    private void RemoveLocked(Neighbour neighbour, string reason)
    {
        if (_byId.TryRemove(neighbour.Id, out _))
        {
            _byAddress.TryRemove(neighbour.Address, out _);
            _events.Writer.TryWrite(new NeighbourEvent(NeighbourEventKind.Down, neighbour.Id, neighbour.Router, neighbour.Endpoint.ToString()));
            Log.NeighbourDown(_logger, neighbour.Endpoint.ToString(), reason);
        }
    }

    private async ValueTask<SendResult> SendDataAsync(Socket socket, Neighbour neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        // The type byte goes in front, so the frame is copied once into a pooled buffer; the
        // caller may reuse its frame as soon as this returns.
        var datagram = FrameBuffers.Rent(frame.Length + 1);
        try
        {
            datagram[0] = Wire.Data;
            frame.Span.CopyTo(datagram.AsSpan(1));
            await socket.SendToAsync(datagram.AsMemory(0, frame.Length + 1), SocketFlags.None, neighbour.Address, cancellationToken).ConfigureAwait(false);
            return SendResult.Sent;
        }
        catch (ObjectDisposedException)
        {
            return SendResult.Stopped;
        }
        catch (SocketException)
        {
            return SendResult.Sent; // lost on the way, as datagrams may be
        }
        finally
        {
            FrameBuffers.Return(datagram);
        }
    }

    private static async ValueTask SendQuietlyAsync(Socket socket, ReadOnlyMemory<byte> datagram, SocketAddress to, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendToAsync(datagram, SocketFlags.None, to, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Hellos and byes are repeated or best effort; a lost one changes nothing.
        }
    }

    /// <summary>The peer's address in the socket's family (IPv4 peers are mapped for a dual-stack socket), or null.</summary>
    private async ValueTask<IPEndPoint?> ResolveAsync(HostEndpoint peer, AddressFamily family, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = peer.Address is { } literal ? [literal] : await Dns.GetHostAddressesAsync(peer.Host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            if (_resolveWarnings.ShouldLog())
            {
                Log.PeerUnresolved(_logger, peer.ToString(), e.Message);
            }

            return null;
        }

        foreach (var address in addresses)
        {
            if (address.AddressFamily == family)
            {
                return new IPEndPoint(address, peer.Port);
            }

            if (family == AddressFamily.InterNetworkV6 && address.AddressFamily == AddressFamily.InterNetwork)
            {
                return new IPEndPoint(address.MapToIPv6(), peer.Port);
            }
        }

        if (_resolveWarnings.ShouldLog())
        {
            Log.PeerUnresolved(_logger, peer.ToString(), $"no {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address to reach it from {_options.Listen}");
        }

        return null;
    }

    private byte[] Hello()
    {
        var hello = new byte[Wire.HelloSize];
        Wire.WriteHello(hello, _localAddress);
        return hello;
    }

    private void ThrowIfStopped()
    {
        if (_state == Lifecycle.Stopped)
        {
            throw new InvalidOperationException($"The {SampleLinkFactory.NetmodName} netmod has been stopped; it takes no more peers.");
        }
    }

    /// <summary>One router that said hello: the link to it is up until it says bye or falls silent.</summary>
    private sealed class Neighbour(NeighbourId id, SocketAddress address, IPEndPoint endpoint, RouterAddress router, long heard)
    {
        private long _lastHeard = heard;

        public NeighbourId Id { get; } = id;

        /// <summary>Where its datagrams come from and ours go; the key of the address table.</summary>
        public SocketAddress Address { get; } = address;

        public IPEndPoint Endpoint { get; } = endpoint;

        public RouterAddress Router { get; } = router;

        public long LastHeard => Volatile.Read(ref _lastHeard);

        public void Heard(long timestamp) => Volatile.Write(ref _lastHeard, timestamp);
    }
}
