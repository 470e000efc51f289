// The udp netmod's frame paths. Both run to completion on the thread that has the datagram:
// on this VM each wake-up of a sleeping thread costs about 100 µs, more than everything the
// router does with a frame (docs/PERFORMANCE.md), so a frame crosses no thread it can avoid.
//
// Receive: one thread per socket ("udp rx <socket>", background, 1 MiB stack because the
// router's switch runs on it), reusing one buffer and one SocketAddress:
//   recvmsg() (SegmentedIo.Receive, waiting inside it: the socket blocks, LinkSocket) → one
//   datagram, or with Offload several of one sender
//   that the kernel coalesced (UDP_GRO), cut apart by the size it reports → per datagram,
//   type byte →
//     data        LinkTable lookup by (socket, SocketAddress) → rent a frame buffer, copy the
//                 frame out → Incoming.TryWrite, which runs the router's switch on this
//                 thread (FrameChannel); a full channel drops and counts, like a full
//                 router queue; the thread never waits for the router
//     keepalive   mark the path heard
//     hello, ack, beacon   parse, check the source address's rate limit, copy the address,
//                 post to the control loop (Links)
//     anything else, or data from no neighbour   count and drop
// Send: SendAsync → LinkTable lookup by NeighbourId → Neighbour.Send on the caller's thread,
//   which copies the frame behind the type byte into a pooled buffer, calls sendmsg() with
//   MSG_DONTWAIT (SegmentedIo.Send) to the path's cached SocketAddress and returns the buffer;
//   a full socket buffer is a lost datagram, counted (sendBufferFull).
//   SendRunAsync (IFrameRunFeature: the router's slices of one message, laid out with a free
//   byte before each) → Neighbour.SendRun writes the type bytes in place and, with Offload,
//   hands up to 64 datagrams to the kernel with one sendmsg() and UDP_SEGMENT; where the
//   kernel refuses that, the socket sends one datagram per sendto() from then on.
//
// No asynchronous call is ever made on these sockets (nor on the discovery socket): the first
// one would register the socket with the runtime's socket engine, whose epoll thread then wakes,
// and wakes a pool thread, for every datagram — the hand-offs these threads exist to avoid.
// Stopping shuts the sockets down and closes them (LinkSocket.Dispose), which ends a waiting
// recvmsg() at once.
//
// No lock on either path. The threads read the LinkTable snapshot that Links replaces whole.
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>
/// The udp netmod: links to other routers over UDP, configured or found by LAN discovery, and
/// carries one frame per datagram with the udp link protocol (README.md next to this file).
/// </summary>
/// <remarks>
/// One <see cref="NeighbourId"/> per remote router address, however many paths reach it.
/// Thread-safe, as <see cref="Netmod"/> requires.
/// </remarks>
public sealed class UdpEndpoint : Netmod, IPeerStatusFeature, INetmodCountersFeature, IPeerRemovalFeature, IFrameRunFeature
{
    private const int IncomingCapacity = 1024;
    private const int EventCapacity = 1024;

    // Larger than any UDP payload (65,507 bytes over IPv4, 65,527 over IPv6), so no datagram is
    // ever truncated and an oversized one is seen whole, counted and dropped.
    private const int ReceiveBufferBytes = 65_536;

    // With UDP_GRO one receive returns up to 64 datagrams of one sender. The kernel stops
    // coalescing at 64 KiB unless the device's gro_max_size was raised (BIG TCP, up to 512 KiB),
    // so this is room for any of them; a receive cut short anyway is counted (truncated).
    private const int CoalescedReceiveBufferBytes = 512 * 1024;

    // The router's switch runs on the receive threads; 1 MiB of address space leaves it room
    // (only the pages used are committed).
    private const int ReceiveStackSize = 1024 * 1024;

    // After this many socket errors in a row a receive thread pauses briefly, so a socket that
    // fails persistently cannot spin a core.
    private const int ErrorsBeforePause = 10;
    private static readonly TimeSpan ErrorPause = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly NetmodContext _context;
    private readonly UdpOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<InboundFrame> _incoming;
    private readonly Channel<NeighbourEvent> _events;
    private readonly Links _links;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _stateLock = new();
    private readonly List<Thread> _receiveThreads = [];
    private readonly List<Task> _receiveThreadsEnded = [];
    private readonly int _maxFrameSize;
    private readonly LogThrottle _rateLimitLog;
    private readonly Action<LinkPath, int> _segmentationRefused;
    private volatile EndpointState _state;
    private LinkSocket[] _sockets = [];
    private Discovery? _discovery;
    private Task _controlLoop = Task.CompletedTask;
    private Task? _stopTask;

    internal UdpEndpoint(NetmodContext context, UdpOptions options)
    {
        _context = context;
        _options = options;
        _maxFrameSize = options.MaxFrameSize;
        _logger = context.LoggerFactory.CreateLogger("Router.Netmods.Udp");
        Capabilities = new NetmodCapabilities(UdpFactory.NetmodName, options.MaxFrameSize, BroadcastCapable: false, LinkKind.PointToPoint);
        // The router's switch runs inside the receive thread's write to the channel
        // (FrameChannel) instead of waking another: one thread hop less per received frame, as
        // in the inet netmod (docs/PERFORMANCE.md). A switch that has to wait (a full queue
        // downstream) hands the thread back; writers only TryWrite, never wait.
        _incoming = new FrameChannel(IncomingCapacity);
        _events = Channel.CreateBounded<NeighbourEvent>(new BoundedChannelOptions(EventCapacity) { FullMode = BoundedChannelFullMode.Wait });
        _links = new Links(options, context.LocalAddress, context.Time, _logger, _events.Writer, Counters);
        _links.AddPeers(options.Peers);
        _rateLimitLog = new LogThrottle(context.Time);
        _segmentationRefused = (path, error) => Log.SegmentationRefused(_logger, path.Socket.ToString(), path.Display, SegmentedIo.Describe(error));
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

    /// <summary>The link sockets' addresses (with the ports chosen for port 0); empty before start.</summary>
    internal IReadOnlyList<IPEndPoint> ListenEndpoints => Array.ConvertAll(_sockets, s => s.LocalEndPoint);

    /// <summary>The link sockets, for their granted buffer sizes.</summary>
    internal IReadOnlyList<LinkSocket> Sockets => _sockets;

    /// <summary>The discovery socket's address, or null without discovery.</summary>
    internal IPEndPoint? DiscoveryEndpoint => _discovery?.Socket.LocalEndPoint;

    /// <summary>The receive threads started, one per socket (the discovery socket's last).</summary>
    internal IReadOnlyList<Thread> ReceiveThreads
    {
        get
        {
            lock (_stateLock)
            {
                return [.. _receiveThreads];
            }
        }
    }

    /// <summary>Everything counted so far.</summary>
    internal UdpCounters Counters { get; } = new();

    /// <summary>The live neighbours and their paths.</summary>
    internal LinkTable Table => _links.Table;

    /// <summary>Paths open now that count against the inbound path limits.</summary>
    internal int InboundPathCount => _links.InboundPathCount;

    /// <summary>Sources tracked one by one by the per-address handshake rate limit.</summary>
    internal int HandshakeSources => _links.HandshakeSources;

    /// <summary>
    /// Every counter by name (<see cref="UdpCounters.Snapshot"/>). Shaped for an optional
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
                throw new InvalidOperationException("The udp netmod has been stopped; create a new one to start again.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var sockets = new List<LinkSocket>();
            Discovery? discovery = null;
            try
            {
                // No Listen entries: still one socket, on a free port, to greet peers from.
                var listen = _options.Listen.Count > 0
                    ? _options.Listen.Select(e => e.ToIPEndPoint())
                    : [new IPEndPoint(Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, 0)];
                foreach (var endpoint in listen)
                {
                    sockets.Add(LinkSocket.Bind(sockets.Count, endpoint, _options.SocketBufferBytes, isDiscovery: false, _options.Offload));
                }

                if (_options.Discovery)
                {
                    discovery = Discovery.Open(_options, sockets.Count, _logger);
                }
            }
            catch
            {
                sockets.ForEach(s => s.Dispose());
                throw;
            }

            _sockets = [.. sockets];
            _discovery = discovery;
            _state = EndpointState.Running;
            foreach (var socket in _sockets)
            {
                Log.Listening(_logger, socket.ToString());
                Log.SocketBuffers(_logger, socket.ToString(), _options.SocketBufferBytes, socket.BufferMethod, socket.ReceiveBufferBytes, socket.SendBufferBytes);
                Log.Offloads(_logger, socket.ToString(), socket.Segments ? "on" : "off", socket.Coalesces ? "on" : "off");
            }

            _controlLoop = _links.RunAsync(_sockets, discovery, _stopping.Token);
            foreach (var socket in _sockets)
            {
                _receiveThreadsEnded.Add(StartReceiving(socket));
            }

            if (discovery is not null)
            {
                _receiveThreadsEnded.Add(StartReceiving(discovery.Socket));
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
            throw new InvalidOperationException("The udp netmod has been stopped; it takes no more peers.");
        }

        var parsed = HostEndpoint.ParsePeers(peers, UdpFactory.NetmodName);

        lock (_stateLock)
        {
            if (_state == EndpointState.Stopped)
            {
                throw new InvalidOperationException("The udp netmod has been stopped; it takes no more peers.");
            }

            _links.AddPeers(parsed);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask RemovePeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        if (_state == EndpointState.Stopped)
        {
            throw new InvalidOperationException("The udp netmod has been stopped; it has no peers to remove.");
        }

        var parsed = HostEndpoint.ParsePeers(peers, UdpFactory.NetmodName);
        Task closed;
        lock (_stateLock)
        {
            if (_state == EndpointState.Stopped)
            {
                throw new InvalidOperationException("The udp netmod has been stopped; it has no peers to remove.");
            }

            closed = _links.RemovePeers(parsed);
        }

        await closed.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (_state != EndpointState.Running)
        {
            return new ValueTask<SendResult>(SendResult.Stopped);
        }

        return new ValueTask<SendResult>(_links.Table.ById.TryGetValue(neighbour, out var target)
            ? target.Send(frame.Span, Counters)
            : SendResult.NoSuchNeighbour);
    }

    /// <inheritdoc />
    public int FrameHeadroom => Wire.DataHeaderSize;

    /// <inheritdoc />
    public ValueTask<SendResult> SendRunAsync(NeighbourId neighbour, Memory<byte> run, int stride, CancellationToken cancellationToken)
    {
        if (_state != EndpointState.Running)
        {
            return new ValueTask<SendResult>(SendResult.Stopped);
        }

        if (stride <= Wire.DataHeaderSize || run.Length <= Wire.DataHeaderSize)
        {
            throw new ArgumentOutOfRangeException(nameof(stride), "A run needs a stride longer than the headroom and at least one frame byte.");
        }

        return new ValueTask<SendResult>(_links.Table.ById.TryGetValue(neighbour, out var target)
            ? target.SendRun(run.Span, stride, Counters, _segmentationRefused)
            : SendResult.NoSuchNeighbour);
    }

    /// <inheritdoc />
    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken)
    {
        if (_state != EndpointState.Running)
        {
            return new ValueTask<int>(0);
        }

        var all = _links.Table.All;
        var count = 0;
        foreach (var neighbour in all)
        {
            if (neighbour.Id != except && neighbour.Send(frame.Span, Counters) == SendResult.Sent)
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
    public IReadOnlyList<PeerStatus> GetPeers() => _links.GetPeers();

    /// <summary>Starts the receive thread of one socket (under the state lock). The task completes when the thread has ended; it never faults.</summary>
    private Task StartReceiving(LinkSocket link)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var thread = new Thread(() => Receive(link, ended), ReceiveStackSize)
            {
                IsBackground = true,
                Name = $"udp rx {(link.IsDiscovery ? "discovery " : string.Empty)}{link}",
            };
            thread.Start();
            _receiveThreads.Add(thread);
        }
        catch (Exception e)
        {
            // Out of threads or memory: this socket hears nothing, the others carry on.
            Log.LoopFault(_logger, $"udp receive on {link}", e);
            ended.TrySetResult();
        }

        return ended.Task;
    }

    /// <summary>
    /// The receive thread of one socket: reads datagrams until the socket is closed or the
    /// netmod stops, then completes <paramref name="ended"/>. Never throws.
    /// </summary>
    private void Receive(LinkSocket link, TaskCompletionSource ended)
    {
        var socket = link.Socket;

        // Coalesced receives return up to 64 datagrams at once; otherwise one datagram at most.
        var buffer = FrameBuffers.Rent(link.Coalesces ? CoalescedReceiveBufferBytes : ReceiveBufferBytes);

        // Filled in by every receive: the lookups below hash its bytes, so nothing is allocated.
        var from = new SocketAddress(link.Family, SocketAddress.GetMaximumAddressSize(link.Family));
        var failures = 0;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                SegmentedIo.Outcome outcome;
                int received, segmentSize, error;
                bool truncated;
                try
                {
                    // recvmsg() waits (the socket blocks) until datagrams come or stop shuts it down.
                    outcome = SegmentedIo.Receive(socket, buffer, from, out received, out segmentSize, out truncated, out error);
                    if (_stopping.IsCancellationRequested)
                    {
                        return;
                    }
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }

                if (outcome != SegmentedIo.Outcome.Done)
                {
                    Counters.CountReceiveError();
                    Log.ReceiveFailed(_logger, link.ToString(), SegmentedIo.Describe(error));
                    if (++failures >= ErrorsBeforePause)
                    {
                        _stopping.Token.WaitHandle.WaitOne(ErrorPause);
                    }

                    continue;
                }

                failures = 0;
                if (truncated)
                {
                    // The datagram cut short is not handed on: the whole ones before it are.
                    Counters.CountTruncated();
                    received = segmentSize > 0 ? received - (received % segmentSize) : 0;
                    if (received == 0)
                    {
                        continue;
                    }
                }

                try
                {
                    OnReceived(link, buffer.AsSpan(0, received), segmentSize, from);
                }
                catch (Exception e)
                {
                    // Nothing a datagram contains reaches here (the parsers do not throw); this
                    // is for our own bugs, and the thread carries on.
                    Log.LoopFault(_logger, $"udp receive on {link}", e);
                }
            }
        }
        catch (Exception e)
        {
            Log.LoopFault(_logger, $"udp receive on {link}", e);
        }
        finally
        {
            FrameBuffers.Return(buffer);
            ended.TrySetResult();
        }
    }

    /// <summary>
    /// What one receive returned: a datagram, or datagrams of <paramref name="segmentSize"/> bytes
    /// each (the last possibly shorter) that the kernel coalesced, all from <paramref name="from"/>.
    /// </summary>
    private void OnReceived(LinkSocket link, ReadOnlySpan<byte> received, int segmentSize, SocketAddress from)
    {
        if (segmentSize <= 0 || received.Length <= segmentSize)
        {
            Counters.CountReceived();
            OnDatagram(link, received, from);
            return;
        }

        Counters.CountCoalescedReceive();
        Counters.CountReceived((received.Length + segmentSize - 1) / segmentSize);
        for (var start = 0; start < received.Length; start += segmentSize)
        {
            OnDatagram(link, received.Slice(start, Math.Min(segmentSize, received.Length - start)), from);
        }
    }

    private void OnDatagram(LinkSocket link, ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        if (datagram.IsEmpty)
        {
            Counters.CountMalformed();
            return;
        }

        var type = (DatagramType)datagram[0];
        if (link.IsDiscovery)
        {
            // Only beacons are sent to the discovery port.
            if (type == DatagramType.Beacon && Wire.ParseBeacon(datagram, out var beacon) is var status && status is ParseStatus.Valid or ParseStatus.UnsupportedVersion)
            {
                if (TryTakeHandshakeToken(from))
                {
                    Post(new ControlMessage(ControlKind.Beacon, link.Index, LinkSocket.Clone(from), status, Beacon: beacon));
                }
            }
            else
            {
                Counters.CountMalformed();
            }

            return;
        }

        switch (type)
        {
            case DatagramType.Data:
                OnData(link, datagram, from);
                break;
            case DatagramType.Keepalive:
                if (_links.Table.Find(link.Index, from) is { } path)
                {
                    path.MarkHeard();
                }
                else
                {
                    OnStranger(link, from);
                }

                break;
            case DatagramType.Hello:
            case DatagramType.HelloAck:
                var helloStatus = Wire.ParseHello(datagram, out var hello);
                if (helloStatus is ParseStatus.Valid or ParseStatus.UnsupportedVersion)
                {
                    if (!TryTakeHandshakeToken(from))
                    {
                        break;
                    }

                    var kind = type == DatagramType.Hello ? ControlKind.Hello : ControlKind.HelloAck;
                    Post(new ControlMessage(kind, link.Index, LinkSocket.Clone(from), helloStatus, hello));
                }
                else
                {
                    Counters.CountMalformed();
                }

                break;
            default:
                // Unknown types, and beacons sent to a link port rather than the discovery port.
                Counters.CountMalformed();
                break;
        }
    }

    private void OnData(LinkSocket link, ReadOnlySpan<byte> datagram, SocketAddress from)
    {
        var length = datagram.Length - Wire.DataHeaderSize;
        if (length == 0)
        {
            // No datagram carries an empty frame, whoever sent it.
            Counters.CountMalformed();
            return;
        }

        var path = _links.Table.Find(link.Index, from);
        if (path is null)
        {
            OnStranger(link, from);
            return;
        }

        path.MarkHeard();

        if (length > _maxFrameSize)
        {
            // Above what our hello advertised: the sender is broken or hostile.
            Counters.CountTooLarge();
            return;
        }

        // One receive buffer holds many datagrams (UDP_GRO) and is read into again at once, so
        // the frame is copied out of it into a buffer of its own (no larger than a frame).
        var bytes = FrameBuffers.Rent(length);
        datagram[Wire.DataHeaderSize..].CopyTo(bytes);
        Deliver(link, path.Neighbour, bytes, length);
    }

    /// <summary>
    /// Hands a frame to the router if its neighbour's Up event is out and its Down event is not.
    /// The receive thread says which neighbour it is delivering for (a full fence) before
    /// checking, and Links waits for that to clear before writing Down, so no frame can follow
    /// its Down event. The router's switch, run by TryWrite on this thread, runs inside that
    /// window; a Down for the same neighbour waits for it to finish or to await.
    /// </summary>
    private void Deliver(LinkSocket link, Neighbour neighbour, byte[] bytes, int length)
    {
        link.EnterDelivery(neighbour);
        var live = neighbour.IsDeliverable;
        var delivered = live && _incoming.Writer.TryWrite(new InboundFrame(neighbour.Id, bytes, length));
        link.LeaveDelivery();
        if (delivered)
        {
            Counters.CountDelivered();
            return;
        }

        FrameBuffers.Return(bytes);
        if (live)
        {
            Counters.CountIncomingFull();
        }
        else
        {
            Counters.CountNotNeighbour();
        }
    }

    private void Post(in ControlMessage message)
    {
        if (_links.TryPost(message))
        {
            Counters.CountControl();
        }
    }

    private void OnStranger(LinkSocket link, SocketAddress from)
    {
        Counters.CountNotNeighbour();
        if (_links.TryTakeStrangerToken(from))
        {
            _links.TryPost(new ControlMessage(ControlKind.Stranger, link.Index, LinkSocket.Clone(from)));
        }
        else
        {
            Counters.CountStrangerNotAnswered();
        }
    }

    /// <summary>Whether a control datagram from <paramref name="from"/> is within its source's rate; counts (and now and then logs) one that is not.</summary>
    private bool TryTakeHandshakeToken(SocketAddress from)
    {
        if (_links.TryTakeHandshakeToken(from))
        {
            return true;
        }

        Counters.CountHandshakeRateLimited();
        if (_rateLimitLog.ShouldLog())
        {
            Log.HandshakesRateLimited(_logger, SourceKey.From(from).ToString(), _options.HandshakeRatePerAddress, Counters.HandshakesRateLimited);
        }

        return false;
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        // Leave the caller's lock before cancelling: cancellation runs callbacks inline.
        await Task.Yield();
        using var deadline = new CancellationTokenSource(StopTimeout, _context.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);

        // Past the deadline nobody is waiting for Down events any more; stop waiting for room.
        using var abandon = linked.Token.Register(static links => ((Links)links!).AbandonEvents(), _links);
        try
        {
            _stopping.Cancel();

            // Shutting the sockets down (in Dispose) ends the receive threads' waits at once.
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            _discovery?.Dispose();
            // With the sockets closed the threads end at once; they are waited for even when the
            // caller's token is cancelled (only the deadline bounds this), because only after the
            // control loop has finished can every live neighbour be reported down.
            Task[] loops = [_controlLoop, .. _receiveThreadsEnded];
            try
            {
                await Task.WhenAll(loops).WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Log.StopTimedOut(_logger, StopTimeout.TotalSeconds);
            }

            // Only the control loop writes neighbours; report them down once it has finished.
            if (_controlLoop.IsCompleted)
            {
                await _links.CloseAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.LoopFault(_logger, "udp stop", e);
        }
        finally
        {
            _incoming.Writer.TryComplete();
            _events.Writer.TryComplete();
        }
    }
}
