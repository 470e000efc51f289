// One TCP connection to another router, from the first byte to the close.
//
// Stages: HandshakeAsync (both sides send a hello at once, each reads the other's, through a
// pipe pair over the socket) → Routes.RegisterAsync (the connection joins a neighbour, as its
// active link or not) → RunAsync, which runs these until the connection ends:
//   direct send     SendAsync's caller, on its own thread: header + frame into this
//                   connection's scratch buffer, then one non-blocking send(). Only when nobody
//                   else is writing and the send queue is empty; what the socket does not take
//                   (it is full) is left to the write loop, which sends it before anything else
//   write loop      send queue (bounded channel of pooled buffers) → PipeWriter, many frames per
//                   flush: frames sent while the socket is full or another frame is being
//                   written, and keepalives. After a retire, the queue is drained, the retire
//                   marker sent and the send side shut down
//   receive thread  a thread of its own: recv()/poll() on the socket → one linear buffer →
//                   Framing.TryRead → pooled buffer → Incoming channel, whose reader (the
//                   router's switch) runs on this thread. A full Incoming channel blocks it: TCP
//                   backpressure to the peer (PeerConnection.Receive.cs)
//   timer           keepalive when nothing was sent for Keepalive; abort when nothing was
//                   received for DeadPeerTimeout
// then Routes.ConnectionEndedAsync. Nothing throws; each part ends by recording why.
//
// Why run to completion: a hand-off to a sleeping thread costs ~100 µs on a small VM and used
// to happen twice per frame here (a pool thread to write, the socket engine waking a pool
// thread to read); see docs/PERFORMANCE.md, "What would come next", item 1. An idle frame now
// leaves on the thread that sends it and is delivered by the thread that read it. The queue
// and write loop remain for the busy case, where batching many frames per flush pays.
//
// Locking: none on the frame paths. One flag, _sendOwner, says who writes to the socket: a
// direct sender for one send() call, or the write loop from before it dequeues until what it
// dequeued is flushed (a direct sender that leaves a remainder hands the flag to it). A direct
// sender sends only if the queue is empty once it holds the flag, so frames from one producer
// never overtake its own queued ones. Role, Neighbour and PeerRetired change only inside
// Routes' gate; the frame paths read them as volatile snapshots.
using System.Buffers;
using System.IO.Pipelines;
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

/// <summary>The result of <see cref="PeerConnection.HandshakeAsync"/>.</summary>
internal readonly record struct HandshakeResult(HandshakeOutcome Outcome, Hello Hello, string Detail);

/// <summary>
/// An entry in a connection's send queue: a frame in a pooled buffer, a keepalive
/// (<see cref="Keepalive"/>) or a wake-up for the write loop (<see cref="Wake"/>).
/// </summary>
internal readonly record struct OutboundFrame(byte[]? Buffer, int Length)
{
    /// <summary>A zero-length frame: the peer counts it as life and never delivers it.</summary>
    public static OutboundFrame Keepalive => default;

    /// <summary>Nothing to send: wakes the write loop to send what a direct send left over.</summary>
    public static OutboundFrame Wake => new(null, -1);
}

/// <summary>One TCP connection to a peer router. See the comment at the top of this file.</summary>
internal sealed partial class PeerConnection
{
    // Large frames leave in few writes, yet a busy queue still flushes often enough to keep
    // latency low: the loop flushes when the queue runs dry or this much is buffered.
    private const int FlushThreshold = 256 * 1024;

    // Who writes to the socket (_sendOwner): nobody, a direct sender (for one send() call), or
    // the write loop (from before it dequeues until what it dequeued is flushed).
    private const int NobodySending = 0;
    private const int DirectSending = 1;
    private const int LoopSending = 2;

    // Whether SendAsync's caller may send directly (_direct, bits): opened once registered,
    // closed for good by Retire or Abort.
    private const int DirectOpen = 1;
    private const int DirectClosed = 2;

    private static readonly StreamPipeReaderOptions ReaderOptions =
        new(pool: SegmentPool.Instance, bufferSize: SegmentPool.BlockSize, minimumReadSize: 4 * 1024, leaveOpen: true);

    private static readonly StreamPipeWriterOptions WriterOptions =
        new(pool: SegmentPool.Instance, minimumBufferSize: SegmentPool.BlockSize, leaveOpen: true);
    private static readonly IOException Closed = new("The connection is closed.");

    private readonly InetRuntime _runtime;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly Channel<OutboundFrame> _queue;
    private readonly CancellationTokenSource _cts;
    private readonly TaskCompletionSource _retireRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastReceived;
    private long _lastSent;
    private int _keepaliveQueued;
    private string? _closeReason;
    private volatile bool _peerClosed;
    private volatile bool _sendSideRetired;
    private volatile LinkRole _role;
    private volatile bool _peerRetired;
    private long _roleSince;
    private int _sendOwner;
    private int _direct;

    // Header + frame of a direct send, allocated at registration. When the socket takes only
    // part of it, [_remainderStart, _remainderEnd) is what the write loop still has to send;
    // both belong to whoever holds _sendOwner.
    private byte[]? _scratch;
    private int _remainderStart;
    private int _remainderEnd;

    public PeerConnection(InetRuntime runtime, Socket socket, bool inbound, string remoteEndpoint)
    {
        _runtime = runtime;
        _socket = socket;
        Inbound = inbound;
        RemoteEndpoint = remoteEndpoint;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(_stream, ReaderOptions);
        _writer = PipeWriter.Create(_stream, WriterOptions);

        // After the stream is made (it refuses a non-blocking socket): from now on the
        // synchronous Send and Receive of the frame paths return WouldBlock instead of waiting,
        // and go straight to send()/recv(). The pipes' asynchronous calls are unaffected.
        socket.Blocking = false;
        _queue = Channel.CreateBounded<OutboundFrame>(new BoundedChannelOptions(runtime.Options.SendQueueFrames)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _cts = CancellationTokenSource.CreateLinkedTokenSource(runtime.Stopping);
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

    /// <summary>Sends our hello and reads the peer's, within the handshake timeout.</summary>
    public async Task<HandshakeResult> HandshakeAsync()
    {
        var options = _runtime.Options;
        using var timeout = new CancellationTokenSource(options.HandshakeTimeout, _runtime.Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _cts.Token);
        try
        {
            Handshake.WriteHello(_writer.GetSpan(Handshake.HelloSize), _runtime.LocalAddress, options.MaxFrameSize);
            _writer.Advance(Handshake.HelloSize);
            await _writer.FlushAsync(linked.Token).ConfigureAwait(false);
            while (true)
            {
                var result = await _reader.ReadAsync(linked.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var status = Handshake.TryParse(buffer, out var hello);
                if (status == HelloStatus.Valid)
                {
                    _reader.AdvanceTo(buffer.GetPosition(Handshake.HelloSize));
                    RemoteAddress = hello.Address;
                    MaxSendFrame = (int)Math.Min((uint)options.MaxFrameSize, hello.MaxFrameSize);
                    return new HandshakeResult(HandshakeOutcome.Valid, hello, string.Empty);
                }

                _reader.AdvanceTo(buffer.Start, buffer.End);
                switch (status)
                {
                    case HelloStatus.BadMagic:
                        return new HandshakeResult(HandshakeOutcome.BadMagic, hello, "not a Router inet peer (bad handshake)");
                    case HelloStatus.UnsupportedVersion:
                        return new HandshakeResult(HandshakeOutcome.UnsupportedVersion, hello, $"speaks inet protocol v{hello.Version}, this router speaks v{Handshake.ProtocolVersion}");
                    case HelloStatus.Invalid:
                        return new HandshakeResult(
                            HandshakeOutcome.Invalid,
                            hello,
                            hello.Address.IsNone ? "no router address" : $"max frame size {hello.MaxFrameSize} is below {Handshake.MinimumFrameSize}");
                    case HelloStatus.Incomplete when result.IsCompleted:
                        return new HandshakeResult(HandshakeOutcome.Failed, hello, "the peer closed the connection during the handshake");
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !_cts.IsCancellationRequested)
        {
            return new HandshakeResult(HandshakeOutcome.TimedOut, default, "handshake timed out");
        }
        catch (OperationCanceledException)
        {
            return new HandshakeResult(HandshakeOutcome.Stopping, default, "the netmod is stopping");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            return new HandshakeResult(HandshakeOutcome.Failed, default, e.Message);
        }
    }

    /// <summary>
    /// Runs the receive thread, write loop and timer until the connection ends, then releases
    /// the socket and every queued buffer once the thread has ended. Never throws.
    /// </summary>
    public async Task RunAsync()
    {
        var time = _runtime.Time;
        var now = time.GetTimestamp();
        Volatile.Write(ref _lastReceived, now);
        Volatile.Write(ref _lastSent, now);
        var options = _runtime.Options;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, Math.Min(options.Keepalive.Ticks, options.DeadPeerTimeout.Ticks / 2) / 4));
        var timer = time.CreateTimer(static state => ((PeerConnection)state!).OnTick(), this, period, period);

        // Cancelling (abort, stop) shuts the socket down, so a receive thread waiting in poll()
        // for the peer returns at once.
        var shutdown = _cts.Token.UnsafeRegister(static state => ((PeerConnection)state!).ShutDown(), this);
        var reading = StartReceiving();
        var writing = WriteLoopAsync();
        try
        {
            var first = await Task.WhenAny(reading, writing).ConfigureAwait(false);
            if (first == reading)
            {
                await AfterReadingEndedAsync(writing).ConfigureAwait(false);
            }
            else if (_sendSideRetired)
            {
                // Our side is done; the peer closes its side once it has moved the link too.
                await WaitBoundedAsync(reading, options.HandshakeTimeout * 2).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            Log.LoopFault(_runtime.Logger, "inet connection", e);
        }
        finally
        {
            await timer.DisposeAsync().ConfigureAwait(false);
            Abort(null);
            await Task.WhenAll(reading, writing).ConfigureAwait(false);
            await shutdown.DisposeAsync().ConfigureAwait(false);
            Release();
        }
    }

    /// <summary>
    /// Sends a frame on the caller's thread when nobody else is writing to the socket and the
    /// send queue is empty: copies header and frame into the scratch buffer and makes one
    /// non-blocking send. What the socket does not take is left to the write loop, which sends
    /// it before anything queued later. Returns false, having sent nothing, when the frame must
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

        var scratch = _scratch!;
        var total = Framing.HeaderSize + frame.Length;
        Framing.WriteHeader(scratch, (uint)frame.Length);
        frame.CopyTo(scratch.AsSpan(Framing.HeaderSize));
        int sent;
        SocketError error;
        try
        {
            sent = _socket.Send(scratch.AsSpan(0, total), SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            sent = 0;
            error = SocketError.OperationAborted;
        }

        if (error is SocketError.Success or SocketError.WouldBlock)
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

            // The socket is full: the write loop takes over the flag and the rest. When the
            // queue is too full to take the wake-up, the loop is awake anyway, and it always
            // sends a remainder before dequeuing; when the queue is closed, so is the link.
            _remainderStart = sent;
            _remainderEnd = total;
            Volatile.Write(ref _sendOwner, LoopSending);
            _queue.Writer.TryWrite(OutboundFrame.Wake);
            return true;
        }

        Volatile.Write(ref _sendOwner, NobodySending);
        Abort(error == SocketError.OperationAborted || _cts.IsCancellationRequested ? null : new SocketException((int)error).Message);
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

    private async Task AfterReadingEndedAsync(Task writing)
    {
        var timeout = _runtime.Options.HandshakeTimeout;
        if (_peerClosed && _peerRetired && _role == LinkRole.Active)
        {
            // The peer moved the link to a connection whose handshake has not finished on our
            // side yet. Keep sending here until it registers (and retires this one), so the
            // neighbour neither flaps nor loses frames; give up after a handshake's time.
            try
            {
                await _retireRequested.Task.WaitAsync(timeout, _runtime.Time, _cts.Token).ConfigureAwait(false);
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
            await WaitBoundedAsync(writing, timeout).ConfigureAwait(false);
        }
    }

    private async Task WaitBoundedAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout, _runtime.Time, _cts.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            SetCloseReason("the peer did not finish closing in time");
        }
        catch (OperationCanceledException)
        {
            // Aborted meanwhile: the caller releases everything.
        }
    }

    private async Task WriteLoopAsync()
    {
        var token = _cts.Token;
        var queue = _queue.Reader;
        var time = _runtime.Time;
        try
        {
            while (await queue.WaitToReadAsync(token).ConfigureAwait(false))
            {
                TakeSendSide();
                if (_remainderEnd != 0)
                {
                    await SendRemainderAsync(token).ConfigureAwait(false);
                }

                while (queue.TryRead(out var item))
                {
                    if (item.Buffer is null)
                    {
                        if (item.Length == 0)
                        {
                            Framing.WriteHeader(_writer.GetSpan(Framing.HeaderSize), 0);
                            _writer.Advance(Framing.HeaderSize);
                            Volatile.Write(ref _keepaliveQueued, 0);
                        }

                        // Otherwise a wake-up: the remainder it announced went first.
                        continue;
                    }

                    Framing.WriteHeader(_writer.GetSpan(Framing.HeaderSize), (uint)item.Length);
                    _writer.Advance(Framing.HeaderSize);
                    _writer.Write(item.Buffer.AsSpan(0, item.Length));
                    FrameBuffers.Return(item.Buffer);
                    if (_writer.UnflushedBytes >= FlushThreshold)
                    {
                        await _writer.FlushAsync(token).ConfigureAwait(false);
                        Volatile.Write(ref _lastSent, time.GetTimestamp());
                    }
                }

                if (_writer.UnflushedBytes > 0)
                {
                    await _writer.FlushAsync(token).ConfigureAwait(false);
                    Volatile.Write(ref _lastSent, time.GetTimestamp());
                }

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
                    await SendRemainderAsync(token).ConfigureAwait(false);
                }

                Framing.WriteHeader(_writer.GetSpan(Framing.HeaderSize), Framing.RetireMarker);
                _writer.Advance(Framing.HeaderSize);
                await _writer.FlushAsync(token).ConfigureAwait(false);
                _socket.Shutdown(SocketShutdown.Send);
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
            Log.LoopFault(_runtime.Logger, "inet write loop", e);
            SetCloseReason(e.Message);
        }
        finally
        {
            if (!_sendSideRetired)
            {
                Abort(null);
            }
        }
    }

    /// <summary>
    /// Makes the write loop the one writer to the socket. A direct sender holds the flag for one
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
    private async ValueTask SendRemainderAsync(CancellationToken token)
    {
        await _stream.WriteAsync(_scratch.AsMemory(_remainderStart, _remainderEnd - _remainderStart), token).ConfigureAwait(false);
        _remainderStart = 0;
        _remainderEnd = 0;
        Volatile.Write(ref _lastSent, _runtime.Time.GetTimestamp());
    }

    /// <summary>Shuts both directions down, so a receive thread in poll() wakes up. Safe at any time.</summary>
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
        _stream.Dispose();
        _reader.Complete();

        // With an exception the writer drops what is unflushed instead of writing it
        // synchronously to a socket that may never drain.
        _writer.Complete(Closed);
        while (_queue.Reader.TryRead(out var item))
        {
            if (item.Buffer is not null)
            {
                FrameBuffers.Return(item.Buffer);
            }
        }

        _cts.Dispose();
    }

    /// <summary>Closes a connection that never ran (handshake failed or refused).</summary>
    public void Discard()
    {
        Abort(null);
        Release();
    }
}
