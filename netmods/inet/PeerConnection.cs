// One TCP connection to another router, from the first byte to the close.
//
// Each connection runs on a thread of its own ("inet rx <endpoint>"), started when the socket
// is accepted or before it is connected, which does, in turn and synchronously: [connect, for
// a dialled one: non-blocking connect(), then poll() for writability] → Handshake (both sides
// send a hello at once, each reads the other's: non-blocking send()/recv() and poll() under the
// handshake deadline) → Routes.RegisterAsync (the connection joins a neighbour, as its active
// link or not; waited for on this thread) → Run, which runs these until the connection ends:
//   direct send     SendAsync's caller, on its own thread: header + frame in one non-blocking
//                   gather sendmsg(). Only when nobody else is writing and the send queue is
//                   empty; what the socket does not take (it is full) is copied into this
//                   connection's scratch buffer and left to the writer, which sends it before
//                   anything else
//   writer thread   "inet tx <endpoint>": send queue (bounded channel of pooled buffers) → one
//                   256 KiB batch buffer → send(), which waits while the socket is full:
//                   frames sent while the socket is full or another frame is being
//                   written, and keepalives. It sleeps on the queue when it is empty. After a
//                   retire, the queue is drained, the retire marker sent and the send side shut
//                   down
//   receive         on the connection's thread: blocking readv() on the socket → a short-frame
//                   buffer → Framing.TryRead → pooled buffer (a long frame: straight into its
//                   pooled buffer) → Incoming channel, whose reader
//                   (the router's switch) runs on this thread. A full Incoming channel blocks
//                   it: TCP backpressure to the peer (PeerConnection.Receive.cs)
//   timer           keepalive when nothing was sent for Keepalive; abort when nothing was
//                   received for DeadPeerTimeout
// then Routes.ConnectionEndedAsync. Nothing throws; each part ends by recording why.
//
// Why run to completion: a hand-off to a sleeping thread costs ~100 µs on a small VM and used
// to happen twice per frame here (a pool thread to write, the socket engine waking a pool
// thread to read); see docs/PERFORMANCE.md, "Run to completion". An idle frame now
// leaves on the thread that sends it and is delivered by the thread that read it. The queue
// and writer remain for the busy case, where batching many frames per send pays.
//
// Why no asynchronous socket call, ever (not ConnectAsync, not a stream or pipe): the first one
// registers the socket with the runtime's socket engine, whose epoll thread from then on wakes,
// and wakes a pool thread, for every segment that arrives although nobody awaits anything:
// two hand-offs per segment competing with the receive thread. Every call on a link socket is a
// plain system call. The socket is non-blocking until the connection runs (connect and
// handshake wait in poll() under their deadlines), then blocking (BlockingReceive): the
// receive thread waits inside readv(), the writer inside send(), and a direct send passes
// MSG_DONTWAIT so it never waits.
//
// Locking: none on the frame paths. One flag, _sendOwner, says who writes to the socket: a
// direct sender for one send() call, or the writer from before it dequeues until what it
// dequeued is sent (a direct sender that leaves a remainder hands the flag to it). A direct
// sender sends only if the queue is empty once it holds the flag, so frames from one producer
// never overtake its own queued ones. Role, Neighbour and PeerRetired change only inside
// Routes' gate; the frame paths read them as volatile snapshots.
using System.Net.Sockets;
using System.Threading.Channels;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>The part a connection plays for its neighbour (see README.md, "Duplicate links").</summary>
internal enum LinkRole
{
    /// <summary>Not registered yet (handshake running, or it failed).</summary>
    Unregistered,

    /// <summary>Carries the neighbour's traffic.</summary>
    Active,

    /// <summary>A spare the peer dialled; read from, not sent on, promoted if the active one goes.</summary>
    Standby,

    /// <summary>Being closed gracefully: queue drained, retire marker sent, waiting for the peer's close.</summary>
    Retiring,
}

/// <summary>How a handshake ended.</summary>
internal enum HandshakeOutcome
{
    Valid,
    BadMagic,
    UnsupportedVersion,
    Invalid,
    TimedOut,
    Failed,
    Stopping,
}

/// <summary>The result of <see cref="PeerConnection.ExchangeHellos"/>.</summary>
internal readonly record struct HandshakeResult(HandshakeOutcome Outcome, Hello Hello, string Detail);

/// <summary>
/// An entry in a connection's send queue: a frame in a pooled buffer, a keepalive
/// (<see cref="Keepalive"/>) or a wake-up for the writer (<see cref="Wake"/>).
/// </summary>
internal readonly record struct OutboundFrame(byte[]? Buffer, int Length)
{
    /// <summary>A zero-length frame: the peer counts it as life and never delivers it.</summary>
    public static OutboundFrame Keepalive => default;

    /// <summary>Nothing to send: wakes the writer to send what a direct send left over.</summary>
    public static OutboundFrame Wake => new(null, -1);
}

/// <summary>One TCP connection to a peer router. See the comment at the top of this file.</summary>
internal sealed partial class PeerConnection
{
    // Large frames leave in few send() calls, yet a busy queue is still sent often enough to
    // keep latency low: the writer sends when the queue runs dry or this much is batched.
    private const int BatchSize = 256 * 1024;

    // The writer runs no code but its own; 256 KiB of address space is plenty.
    private const int WriterStackSize = 256 * 1024;

    // How long the handshake waits in poll() before it looks at its deadline (which may be
    // kept by a fake TimeProvider) and the token again.
    private const int HandshakePollMicroseconds = 100_000;

    // How long the writer waits in poll() for a full socket before it looks at the token again.
    // Only until the receive side has made the socket blocking; from then on send() waits.
    private const int PollMicroseconds = 500_000;

    // Who writes to the socket (_sendOwner): nobody, a direct sender (for one send() call), or
    // the writer (from before it dequeues until what it dequeued is sent).
    private const int NobodySending = 0;
    private const int DirectSending = 1;
    private const int LoopSending = 2;

    // Whether SendAsync's caller may send directly (_direct, bits): opened once registered,
    // closed for good by Retire or Abort.
    private const int DirectOpen = 1;
    private const int DirectClosed = 2;

    private readonly InetRuntime _runtime;
    private readonly Socket _socket;
    private readonly Channel<OutboundFrame> _queue;
    private readonly CancellationTokenSource _cts;
    private readonly CancellationTokenRegistration _shutdown;
    private readonly TaskCompletionSource _retireRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastReceived;
    private long _lastSent;
    private long _sendSideRetiredAt;
    private int _keepaliveQueued;
    private string? _closeReason;
    private volatile bool _peerClosed;
    private volatile bool _sendSideRetired;
    private volatile LinkRole _role;
    private volatile bool _peerRetired;
    private long _roleSince;
    private int _sendOwner;
    private int _direct;

    // Header + frame of a direct send the socket took only part of, allocated at registration:
    // [_remainderStart, _remainderEnd) is what the writer still has to send; both belong to
    // whoever holds _sendOwner.
    private byte[]? _scratch;
    private int _remainderStart;
    private int _remainderEnd;

    // The writer's batch: queued frames with their headers, sent in one send() when full or
    // when the queue runs dry. The writer thread's alone; allocated when first needed.
    private byte[]? _batch;
    private int _batchLength;

    /// <param name="socket">A connected socket; it is made non-blocking, and owned from now on.</param>
    public PeerConnection(InetRuntime runtime, Socket socket, bool inbound, string remoteEndpoint)
    {
        _runtime = runtime;
        _socket = socket;
        Inbound = inbound;
        RemoteEndpoint = remoteEndpoint;

        // Send and Receive go straight to send()/recv() and return WouldBlock instead of
        // waiting: connect and handshake wait in poll() under their deadlines. The socket is made
        // blocking underneath Socket once the connection runs (BlockingReceive).
        socket.Blocking = false;
        _queue = Channel.CreateBounded<OutboundFrame>(new BoundedChannelOptions(runtime.Options.SendQueueFrames)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _cts = CancellationTokenSource.CreateLinkedTokenSource(runtime.Stopping);

        // Cancelling (abort, stop) shuts the socket down, so a thread waiting in poll(), recv()
        // or send() for the peer returns at once.
        _shutdown = _cts.Token.UnsafeRegister(static state => ((PeerConnection)state!).ShutDown(), this);
        _roleSince = runtime.Time.GetTimestamp();
    }

    /// <summary>True when the peer dialled this connection.</summary>
    public bool Inbound { get; }

    /// <summary>The peer's socket address, for logs and status.</summary>
    public string RemoteEndpoint { get; }

    /// <summary>The router address from the peer's hello (none before the handshake).</summary>
    public RouterAddress RemoteAddress { get; private set; }

    /// <summary>The largest frame that may be sent here: the smaller of both sides' maximums.</summary>
    public int MaxSendFrame { get; private set; }

    /// <summary>The neighbour this connection belongs to, once registered. Set inside Routes' gate.</summary>
    public Neighbour? Neighbour { get; private set; }

    /// <summary>The part this connection plays. Changed inside Routes' gate.</summary>
    public LinkRole Role => _role;

    /// <summary>When <see cref="Role"/> last changed (a <see cref="TimeProvider"/> timestamp).</summary>
    public long RoleSince => Volatile.Read(ref _roleSince);

    /// <summary>The peer sent the retire marker: it carries this link on another connection.</summary>
    public bool PeerRetired => _peerRetired;

    /// <summary>Why the connection ended, for logs.</summary>
    public string CloseReason => Volatile.Read(ref _closeReason) ?? "closed";

    /// <summary>
    /// Sends our hello and reads the peer's, within the handshake timeout, on the calling thread
    /// (the connection's own): non-blocking send()/recv() and poll(). Reads exactly the hello;
    /// whatever the peer sent behind it stays in the socket for the receive loop.
    /// </summary>
    public HandshakeResult ExchangeHellos()
    {
        var options = _runtime.Options;
        var started = _runtime.Time.GetTimestamp();
        Span<byte> hello = stackalloc byte[Handshake.HelloSize];
        try
        {
            Handshake.WriteHello(hello, _runtime.LocalAddress, options.MaxFrameSize);
            var sent = 0;
            while (sent < hello.Length)
            {
                var count = _socket.Send(hello[sent..], SocketFlags.None, out var error);
                if (error == SocketError.Success)
                {
                    sent += count;
                }
                else if (error != SocketError.WouldBlock)
                {
                    return Failed(error);
                }
                else if (!WaitInHandshake(SelectMode.SelectWrite, started, out var stopped))
                {
                    return stopped;
                }
            }

            var received = 0;
            while (true)
            {
                var count = _socket.Receive(hello[received..], SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock)
                {
                    if (!WaitInHandshake(SelectMode.SelectRead, started, out var stopped))
                    {
                        return stopped;
                    }

                    continue;
                }

                if (_cts.IsCancellationRequested)
                {
                    return Stopping();
                }

                if (error != SocketError.Success)
                {
                    return Failed(error);
                }

                if (count == 0)
                {
                    return new HandshakeResult(HandshakeOutcome.Failed, default, "the peer closed the connection during the handshake");
                }

                received += count;
                var status = Handshake.TryParse(hello[..received], out var peer);
                switch (status)
                {
                    case HelloStatus.Valid:
                        RemoteAddress = peer.Address;
                        MaxSendFrame = (int)Math.Min((uint)options.MaxFrameSize, peer.MaxFrameSize);
                        return new HandshakeResult(HandshakeOutcome.Valid, peer, string.Empty);
                    case HelloStatus.BadMagic:
                        return new HandshakeResult(HandshakeOutcome.BadMagic, peer, "not a Router inet peer (bad handshake)");
                    case HelloStatus.UnsupportedVersion:
                        return new HandshakeResult(HandshakeOutcome.UnsupportedVersion, peer, $"speaks inet protocol v{peer.Version}, this router speaks v{Handshake.ProtocolVersion}");
                    case HelloStatus.Invalid:
                        return new HandshakeResult(
                            HandshakeOutcome.Invalid,
                            peer,
                            peer.Address.IsNone ? "no router address" : $"max frame size {peer.MaxFrameSize} is below {Handshake.MinimumFrameSize}");
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return _cts.IsCancellationRequested ? Stopping() : new HandshakeResult(HandshakeOutcome.Failed, default, e.Message);
        }

        HandshakeResult Failed(SocketError error) => _cts.IsCancellationRequested
            ? Stopping()
            : new HandshakeResult(HandshakeOutcome.Failed, default, new SocketException((int)error).Message);
    }

    /// <summary>
    /// Runs the writer thread, the receive loop (on the calling thread, the connection's own)
    /// and the timer until the connection ends, then releases the socket and every queued
    /// buffer once the writer has ended. Never throws.
    /// </summary>
    public void Run()
    {
        var time = _runtime.Time;
        var now = time.GetTimestamp();
        Volatile.Write(ref _lastReceived, now);
        Volatile.Write(ref _lastSent, now);
        var options = _runtime.Options;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, Math.Min(options.Keepalive.Ticks, options.DeadPeerTimeout.Ticks / 2) / 4));
        var timer = time.CreateTimer(static state => ((PeerConnection)state!).OnTick(), this, period, period);
        var writing = StartWriter();
        try
        {
            Receive();
            AfterReadingEnded(writing);
        }
        catch (Exception e)
        {
            Log.LoopFault(_runtime.Logger, "inet connection", e);
        }
        finally
        {
            timer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Abort(null);
            writing.GetAwaiter().GetResult();
            Release();
        }
    }

    /// <summary>
    /// Sends a frame on the caller's thread when nobody else is writing to the socket and the
    /// send queue is empty: one non-blocking gather send of header and frame
    /// (<see cref="GatherSend"/>). What the socket does not take is copied into the scratch
    /// buffer and left to the writer, which sends it before anything queued later. Returns false, having sent nothing, when the frame must
    /// be queued instead (busy, not registered, retired, closed). Allocates nothing.
    /// </summary>
    /// <param name="frame">1 to <see cref="MaxSendFrame"/> bytes.</param>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (Volatile.Read(ref _direct) != DirectOpen
            || Interlocked.CompareExchange(ref _sendOwner, DirectSending, NobodySending) != NobodySending)
        {
            return false;
        }

        // Checked again now that nobody else can write: a Retire or Abort that came first is
        // obeyed, and a frame queued earlier (perhaps by the same producer) goes first.
        if (Volatile.Read(ref _direct) != DirectOpen || _queue.Reader.Count != 0)
        {
            Volatile.Write(ref _sendOwner, NobodySending);
            return false;
        }

        // Header and frame in one gather send; only a remainder the socket did not take is
        // copied, into the scratch buffer the writer sends it from.
        Span<byte> header = stackalloc byte[Framing.HeaderSize];
        Framing.WriteHeader(header, (uint)frame.Length);
        var total = Framing.HeaderSize + frame.Length;
        int sent;
        int error;
        try
        {
            sent = GatherSend.Send(_socket, header, frame, out error);
        }
        catch (ObjectDisposedException)
        {
            sent = 0;
            error = -1;
        }

        if (error is 0 or GatherSend.WouldBlock)
        {
            if (sent > 0)
            {
                Volatile.Write(ref _lastSent, _runtime.Time.GetTimestamp());
            }

            if (sent == total)
            {
                Volatile.Write(ref _sendOwner, NobodySending);
                return true;
            }

            // The socket is full: the writer takes over the flag and the rest. When the
            // queue is too full to take the wake-up, the writer is awake anyway, and it always
            // sends a remainder before dequeuing; when the queue is closed, so is the link.
            var scratch = _scratch!;
            header.CopyTo(scratch);
            frame.CopyTo(scratch.AsSpan(Framing.HeaderSize));
            _remainderStart = sent;
            _remainderEnd = total;
            Volatile.Write(ref _sendOwner, LoopSending);
            _queue.Writer.TryWrite(OutboundFrame.Wake);
            return true;
        }

        Volatile.Write(ref _sendOwner, NobodySending);
        Abort(error == -1 || _cts.IsCancellationRequested ? null : GatherSend.Describe(error));
        return false;
    }

    /// <summary>Queues a frame without waiting; false when the queue is full or closed.</summary>
    public bool TryEnqueue(OutboundFrame frame) => _queue.Writer.TryWrite(frame);

    /// <summary>Queues a frame, waiting for space. Throws <see cref="ChannelClosedException"/> once the connection is closing.</summary>
    public ValueTask EnqueueAsync(OutboundFrame frame, CancellationToken cancellationToken) => _queue.Writer.WriteAsync(frame, cancellationToken);

    /// <summary>Ends the connection now (stop, dead peer, error). Safe to call at any time, repeatedly.</summary>
    public void Abort(string? reason)
    {
        if (reason is not null)
        {
            SetCloseReason(reason);
        }

        Interlocked.Or(ref _direct, DirectClosed);
        _queue.Writer.TryComplete();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already released: nothing left to stop.
        }
    }

    /// <summary>Joins a neighbour and opens the direct send path. Called inside Routes' gate.</summary>
    public void Attach(Neighbour neighbour, LinkRole role)
    {
        Neighbour = neighbour;
        SetRole(role);
        _scratch ??= GC.AllocateUninitializedArray<byte>(Framing.HeaderSize + MaxSendFrame);
        Interlocked.Or(ref _direct, DirectOpen);
    }

    /// <summary>Changes the role. Called inside Routes' gate.</summary>
    public void SetRole(LinkRole role)
    {
        _role = role;
        Volatile.Write(ref _roleSince, _runtime.Time.GetTimestamp());
    }

    /// <summary>
    /// Starts a graceful close: no more frames are accepted, those queued are sent, then the
    /// retire marker, then the send side is shut down. Called inside Routes' gate.
    /// </summary>
    public void Retire()
    {
        SetRole(LinkRole.Retiring);
        Interlocked.Or(ref _direct, DirectClosed);
        _retireRequested.TrySetResult();
        _queue.Writer.TryComplete();
    }

    /// <summary>Records that the peer sent the retire marker. Called inside Routes' gate.</summary>
    public void MarkPeerRetired() => _peerRetired = true;

    /// <summary>Closes a connection that never ran (handshake failed or refused).</summary>
    public void Discard()
    {
        Abort(null);
        Release();
    }

    private static HandshakeResult Stopping() => new(HandshakeOutcome.Stopping, default, "the netmod is stopping");

    /// <summary>
    /// Waits in poll() for the socket, at most until the next look at the deadline and the
    /// token. False, with the outcome, when the handshake must end.
    /// </summary>
    private bool WaitInHandshake(SelectMode mode, long started, out HandshakeResult stopped)
    {
        if (_cts.IsCancellationRequested)
        {
            stopped = Stopping();
            return false;
        }

        var left = _runtime.Options.HandshakeTimeout - _runtime.Time.GetElapsedTime(started);
        if (left <= TimeSpan.Zero)
        {
            stopped = new HandshakeResult(HandshakeOutcome.TimedOut, default, "handshake timed out");
            return false;
        }

        _socket.Poll((int)Math.Clamp(left.TotalMicroseconds, 1, HandshakePollMicroseconds), mode);
        stopped = default;
        return true;
    }

    private void AfterReadingEnded(Task writing)
    {
        var timeout = _runtime.Options.HandshakeTimeout;
        if (_peerClosed && _peerRetired && _role == LinkRole.Active)
        {
            // The peer moved the link to a connection whose handshake has not finished on our
            // side yet. Keep sending here until it registers (and retires this one), so the
            // neighbour neither flaps nor loses frames; give up after a handshake's time.
            try
            {
                _retireRequested.Task.WaitAsync(timeout, _runtime.Time, _cts.Token).GetAwaiter().GetResult();
            }
            catch (TimeoutException)
            {
                SetCloseReason("the peer retired this connection and no other connection replaced it");
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        if (_retireRequested.Task.IsCompleted)
        {
            // Let the writer send what was queued before the retire, and the marker.
            try
            {
                writing.WaitAsync(timeout, _runtime.Time, _cts.Token).GetAwaiter().GetResult();
            }
            catch (TimeoutException)
            {
                SetCloseReason("the peer did not finish closing in time");
            }
            catch (OperationCanceledException)
            {
                // Aborted meanwhile: Run releases everything.
            }
        }
    }

    /// <summary>Starts the writer thread. The task completes when the thread has ended; it never faults.</summary>
    private Task StartWriter()
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _runtime.ThreadStarting();
        try
        {
            var thread = new Thread(() => Write(ended), WriterStackSize)
            {
                IsBackground = true,
                Name = $"inet tx {RemoteEndpoint}",
            };
            thread.Start();
        }
        catch (Exception e)
        {
            _runtime.ThreadEnded();
            Log.LoopFault(_runtime.Logger, "inet writer thread start", e);
            SetCloseReason(e.Message);
            Abort(null);
            ended.TrySetResult();
        }

        return ended.Task;
    }

    /// <summary>The writer thread: drains the send queue into the socket until the connection ends.</summary>
    private void Write(TaskCompletionSource ended)
    {
        var token = _cts.Token;
        var queue = _queue.Reader;
        Span<byte> header = stackalloc byte[Framing.HeaderSize];
        try
        {
            while (WaitToRead(queue, token))
            {
                TakeSendSide();
                if (_remainderEnd != 0)
                {
                    SendRemainder(token);
                }

                while (queue.TryRead(out var item))
                {
                    if (item.Buffer is null)
                    {
                        if (item.Length == 0)
                        {
                            Framing.WriteHeader(header, 0);
                            Append(header, token);
                            Volatile.Write(ref _keepaliveQueued, 0);
                        }

                        // Otherwise a wake-up: the remainder it announced went first.
                        continue;
                    }

                    Framing.WriteHeader(header, (uint)item.Length);
                    Append(header, token);
                    Append(item.Buffer.AsSpan(0, item.Length), token);
                    FrameBuffers.Return(item.Buffer);
                }

                SendBatch(token);
                Volatile.Write(ref _sendOwner, NobodySending);
            }

            if (_retireRequested.Task.IsCompleted && !token.IsCancellationRequested)
            {
                // Held for good: nothing may follow the marker. A direct send still under way
                // when the retire came finishes first (TakeSendSide waits for it), and its
                // remainder goes before the marker.
                TakeSendSide();
                if (_remainderEnd != 0)
                {
                    SendRemainder(token);
                }

                Framing.WriteHeader(header, Framing.RetireMarker);
                SendAll(header, token);
                _socket.Shutdown(SocketShutdown.Send);
                Volatile.Write(ref _sendSideRetiredAt, _runtime.Time.GetTimestamp());
                _sendSideRetired = true;
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted: the reason was recorded by whoever aborted.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            if (!token.IsCancellationRequested)
            {
                SetCloseReason(e.Message);
            }
        }
        catch (Exception e)
        {
            Log.LoopFault(_runtime.Logger, "inet writer thread", e);
            SetCloseReason(e.Message);
        }
        finally
        {
            if (!_sendSideRetired)
            {
                Abort(null);
            }

            _runtime.ThreadEnded();
            ended.TrySetResult();
        }
    }

    /// <summary>
    /// Blocks the writer until the queue has an item (true) or is closed and empty (false).
    /// Returns at once, allocating nothing, when an item is there already.
    /// </summary>
    private static bool WaitToRead(ChannelReader<OutboundFrame> queue, CancellationToken token)
    {
        var waiting = queue.WaitToReadAsync(token);
        return waiting.IsCompletedSuccessfully ? waiting.Result : waiting.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Adds bytes to the batch, sending it whenever it is full.</summary>
    private void Append(ReadOnlySpan<byte> bytes, CancellationToken token)
    {
        var batch = _batch ??= GC.AllocateUninitializedArray<byte>(BatchSize);
        while (!bytes.IsEmpty)
        {
            if (_batchLength == batch.Length)
            {
                SendBatch(token);
            }

            var count = Math.Min(bytes.Length, batch.Length - _batchLength);
            bytes[..count].CopyTo(batch.AsSpan(_batchLength));
            _batchLength += count;
            bytes = bytes[count..];
        }
    }

    private void SendBatch(CancellationToken token)
    {
        if (_batchLength > 0)
        {
            SendAll(_batch.AsSpan(0, _batchLength), token);
            _batchLength = 0;
        }
    }

    /// <summary>
    /// Sends all of <paramref name="bytes"/>: send() waits while the socket is full (before the
    /// socket is made blocking, poll() does). Throws when the connection ends meanwhile.
    /// </summary>
    private void SendAll(ReadOnlySpan<byte> bytes, CancellationToken token)
    {
        while (!bytes.IsEmpty)
        {
            var sent = _socket.Send(bytes, SocketFlags.None, out var error);
            if (error == SocketError.Success)
            {
                bytes = bytes[sent..];
                Volatile.Write(ref _lastSent, _runtime.Time.GetTimestamp());
                continue;
            }

            token.ThrowIfCancellationRequested();
            if (error != SocketError.WouldBlock)
            {
                throw new SocketException((int)error);
            }

            // Writable, closed or timed out: the next send() tells which.
            _socket.Poll(PollMicroseconds, SelectMode.SelectWrite);
        }
    }

    /// <summary>
    /// Makes the writer the one writer to the socket. A direct sender holds the flag for one
    /// non-blocking send() only, so this spins for microseconds at most; a direct sender that
    /// left a remainder has already handed the flag over.
    /// </summary>
    private void TakeSendSide()
    {
        var spinner = default(SpinWait);
        while (Interlocked.CompareExchange(ref _sendOwner, LoopSending, NobodySending) == DirectSending)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Sends what a direct send left in the scratch buffer, waiting for the socket to take it.</summary>
    private void SendRemainder(CancellationToken token)
    {
        SendAll(_scratch.AsSpan(_remainderStart, _remainderEnd - _remainderStart), token);
        _remainderStart = 0;
        _remainderEnd = 0;
    }

    /// <summary>Shuts both directions down, so a thread in poll(), recv() or send() wakes up. Safe at any time.</summary>
    private void ShutDown()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Not connected any more, or released: nothing to wake.
        }
    }

    private void OnTick()
    {
        try
        {
            if (_cts.IsCancellationRequested)
            {
                return;
            }

            var time = _runtime.Time;
            var options = _runtime.Options;
            var now = time.GetTimestamp();
            if (_sendSideRetired && time.GetElapsedTime(Volatile.Read(ref _sendSideRetiredAt), now) >= options.HandshakeTimeout * 2)
            {
                // Our side is done; the peer closes its side once it has moved the link too,
                // or not at all.
                SetCloseReason("the peer did not finish closing in time");
                Abort(null);
                return;
            }

            var silent = time.GetElapsedTime(Volatile.Read(ref _lastReceived), now);
            if (silent >= options.DeadPeerTimeout)
            {
                var seconds = Math.Round(silent.TotalSeconds, 1);
                Log.PeerSilent(_runtime.Logger, RemoteEndpoint, seconds);
                Abort($"the peer was silent for {seconds} s");
                return;
            }

            if (time.GetElapsedTime(Volatile.Read(ref _lastSent), now) >= options.Keepalive
                && Interlocked.Exchange(ref _keepaliveQueued, 1) == 0
                && !_queue.Writer.TryWrite(OutboundFrame.Keepalive))
            {
                // Queue full (the writer is busy anyway) or closed: try again next tick.
                Volatile.Write(ref _keepaliveQueued, 0);
            }
        }
        catch (Exception e)
        {
            Log.LoopFault(_runtime.Logger, "inet keepalive timer", e);
        }
    }

    private void SetCloseReason(string reason) => Interlocked.CompareExchange(ref _closeReason, reason, null);

    private void Release()
    {
        _shutdown.Dispose();
        _socket.Dispose();
        while (_queue.Reader.TryRead(out var item))
        {
            if (item.Buffer is not null)
            {
                FrameBuffers.Return(item.Buffer);
            }
        }

        _cts.Dispose();
    }
}
