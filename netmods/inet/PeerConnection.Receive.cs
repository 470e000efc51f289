// The receive side of a PeerConnection, on the connection's own thread (the overview is at the
// top of PeerConnection.cs):
//
//   recv() into one linear buffer → Framing.TryRead → each frame copied into a buffer from
//   FrameBuffers → Incoming.TryWrite, which runs the reader waiting there (the router's
//   switch) on this thread.
//
// recv() blocks (the socket is switched to blocking mode here, BlockingReceive): one system
// call per wake-up. It is a plain system call, and no asynchronous call is ever made on the
// socket, so the runtime's socket engine never hears of it.
//
// When Incoming is full the thread waits for room and reads nothing meanwhile: TCP
// backpressure to the peer, nothing dropped. The buffer holds a whole maximum-size frame and
// its header; it starts smaller when frames may be large (256 KiB, grown to fit a larger frame
// only once that frame's bytes fill it) and a partial frame at its end is moved to the front
// when the room behind it runs short. The handshake read exactly the hello, so frames the peer
// sent right behind it are still in the socket.
//
// Stopping: cancelling the connection's token shuts the socket down, so recv() returns at
// once; a wait for room in Incoming is cancelled by the token.
using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>The receive side of a <see cref="PeerConnection"/>. See the comment at the top of this file.</summary>
internal sealed partial class PeerConnection
{
    /// <summary>
    /// The stack of a connection's own thread. The router's switch, session opening and IP
    /// interface writes run on it; 1 MiB of address space leaves them room (only the pages
    /// used are committed).
    /// </summary>
    public const int ThreadStackSize = 1024 * 1024;

    // Below this much room behind the data, a partial frame is moved to the front first.
    private const int MinimumReceive = 16 * 1024;

    // The buffer a connection starts with when frames may be larger (MaxFrameSize above it).
    private const int InitialReceiveBuffer = 256 * 1024;

    /// <summary>The largest receive buffer a connection needs: one maximum-size frame with its header, at least 64 KiB.</summary>
    private static int ReceiveBufferLimit(int maxFrameSize) => Math.Max(Framing.HeaderSize + maxFrameSize, 64 * 1024);

    /// <summary>Reads and delivers frames until the connection ends, recording why it ended.</summary>
    private void Receive()
    {
        var largest = ReceiveBufferLimit(_runtime.Options.MaxFrameSize);
        var buffer = GC.AllocateUninitializedArray<byte>(Math.Min(largest, InitialReceiveBuffer));
        var end = 0;
        var token = _cts.Token;
        var time = _runtime.Time;
        var start = 0;
        try
        {
            var blocking = BlockingReceive.MakeBlocking(_socket);
            if (blocking != 0)
            {
                SetCloseReason($"cannot make the socket blocking: {Marshal.GetPInvokeErrorMessage(blocking)}");
                return;
            }

            while (!token.IsCancellationRequested)
            {
                if (end > start && !TakeFrames(buffer, ref start, end, token))
                {
                    return;
                }

                if (start == end)
                {
                    start = 0;
                    end = 0;
                }
                else if (buffer.Length - end < MinimumReceive)
                {
                    // A partial frame near the end: move it to the front. If the room is still
                    // short, the peer has sent most of a buffer's worth of one frame; when that
                    // frame is larger than the buffer (its length is below the maximum, or
                    // TakeFrames would have refused it), grow the buffer to fit it.
                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }

                    var needed = Framing.HeaderSize + (long)Framing.ReadHeader(buffer);
                    if (buffer.Length - end < MinimumReceive && needed > buffer.Length)
                    {
                        var larger = GC.AllocateUninitializedArray<byte>((int)Math.Min(needed, largest));
                        buffer.AsSpan(0, end).CopyTo(larger);
                        buffer = larger;
                    }
                }

                if (end == buffer.Length)
                {
                    // Cannot happen: a buffer this full holds a whole frame of any allowed size.
                    SetCloseReason("the receive buffer is full without a whole frame");
                    return;
                }

                var received = BlockingReceive.Receive(_socket, buffer.AsSpan(end), out var error);
                if (token.IsCancellationRequested)
                {
                    // Aborted (that shut the socket down): the reason was recorded by whoever aborted.
                    return;
                }

                if (received < 0)
                {
                    SetCloseReason(Marshal.GetPInvokeErrorMessage(error));
                    return;
                }

                if (received == 0)
                {
                    SetCloseReason("the peer closed the connection");
                    _peerClosed = true;
                    return;
                }

                end += received;
                Volatile.Write(ref _lastReceived, time.GetTimestamp());
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
            Log.LoopFault(_runtime.Logger, "inet receive thread", e);
            SetCloseReason(e.Message);
        }
    }

    /// <summary>
    /// Hands over every whole frame in <paramref name="buffer"/> from <paramref name="start"/>
    /// to <paramref name="end"/> and advances <paramref name="start"/> past them. False when
    /// the connection must end (the reason is recorded).
    /// </summary>
    private bool TakeFrames(byte[] buffer, ref int start, int end, CancellationToken token)
    {
        var maxFrameSize = _runtime.Options.MaxFrameSize;
        var unread = new ReadOnlySequence<byte>(buffer, start, end - start);
        FrameStatus status;
        while ((status = Framing.TryRead(ref unread, maxFrameSize, out var payload, out var length)) != FrameStatus.Incomplete)
        {
            if (status == FrameStatus.Frame)
            {
                var neighbour = Neighbour!;
                if (!neighbour.IsLive)
                {
                    // A straggler on a retiring connection after its neighbour went down:
                    // delivering it would follow the Down event.
                    continue;
                }

                if (!Deliver(neighbour.Id, payload, (int)length, token))
                {
                    return false;
                }
            }
            else if (status == FrameStatus.Retire)
            {
                // Waited for here: the thread has nothing else to do, and the frames behind
                // the marker (none, by the protocol) must not pass it.
                var retired = _runtime.Routes.PeerRetiredAsync(this);
                if (retired.IsCompletedSuccessfully)
                {
                    retired.GetAwaiter().GetResult();
                }
                else
                {
                    retired.AsTask().GetAwaiter().GetResult();
                }
            }
            else if (status == FrameStatus.TooLarge)
            {
                _runtime.Counters.CountFrameTooLarge();
                Log.FrameTooLarge(_runtime.Logger, RemoteEndpoint, length, maxFrameSize);
                SetCloseReason($"the peer sent a {length}-byte frame, above the maximum of {maxFrameSize}");
                return false;
            }
        }

        start = end - (int)unread.Length;
        return true;
    }

    /// <summary>
    /// Copies a frame into a pooled buffer and writes it to Incoming, waiting (blocking this
    /// thread) for room when it is full. False when Incoming is closed: the netmod is stopping.
    /// </summary>
    private bool Deliver(NeighbourId from, in ReadOnlySequence<byte> payload, int length, CancellationToken token)
    {
        var incoming = _runtime.Incoming;
        var bytes = FrameBuffers.Rent(length);
        payload.CopyTo(bytes);
        var frame = new InboundFrame(from, bytes, length);
        if (incoming.TryWrite(frame))
        {
            return true;
        }

        try
        {
            while (incoming.WaitToWriteAsync(token).AsTask().GetAwaiter().GetResult())
            {
                if (incoming.TryWrite(frame))
                {
                    return true;
                }
            }
        }
        catch
        {
            FrameBuffers.Return(bytes);
            throw;
        }

        FrameBuffers.Return(bytes);
        SetCloseReason("the netmod is stopping");
        return false;
    }
}
