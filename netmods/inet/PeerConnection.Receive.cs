// The receive side of a PeerConnection, on the connection's own thread (the overview is at the
// top of PeerConnection.cs):
//
//   readv() into one small linear buffer → Framing.TryRead → each short frame copied into a
//   buffer from FrameBuffers → Incoming.TryWrite, which runs the router's switch on this
//   thread (FrameChannel). A long frame (more than LongFrame bytes) is received
//   straight into its own buffer from FrameBuffers: what of it is already in the linear buffer
//   is copied there, and the rest comes with readv() into [the rest of the frame, the linear
//   buffer], so a 64 KiB frame is not copied a second time and the bytes behind it still come
//   in the same call.
//
// readv() blocks (the socket is switched to blocking mode here, BlockingReceive): one system
// call per wake-up. It is a plain system call, and no asynchronous call is ever made on the
// socket, so the runtime's socket engine never hears of it.
//
// When Incoming is full the thread waits for room and reads nothing meanwhile: TCP
// backpressure to the peer, nothing dropped. The linear buffer holds a few short frames; a
// partial short frame at its end is moved to the front when the room behind it runs short.
// The handshake read exactly the hello, so frames the peer sent right behind it are still in
// the socket.
//
// Stopping: cancelling the connection's token shuts the socket down, so readv() returns at
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

    /// <summary>Frames longer than this (header included) are received into their own buffer.</summary>
    private const int LongFrame = 4 * 1024;

    // The linear buffer: several short frames, and the start of the long frame behind them.
    private const int LinearBuffer = 16 * 1024;

    /// <summary>Reads and delivers frames until the connection ends, recording why it ended.</summary>
    private void Receive()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(LinearBuffer);
        var start = 0;
        var end = 0;
        var token = _cts.Token;
        var time = _runtime.Time;
        var frame = default(LongFrameInProgress);
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
                if (frame.Buffer is null)
                {
                    if (end > start && !TakeFrames(buffer, ref start, end, token))
                    {
                        return;
                    }

                    if (end - start >= Framing.HeaderSize && Framing.HeaderSize + (long)Framing.ReadHeader(buffer.AsSpan(start)) > LongFrame)
                    {
                        // TakeFrames refused what is too large; this is a frame still coming.
                        frame = LongFrameInProgress.Start(buffer.AsSpan(start, end - start));
                        (start, end) = (0, 0);
                    }
                    else if (start == end)
                    {
                        (start, end) = (0, 0);
                    }
                    else if (buffer.Length - end < LongFrame)
                    {
                        // A partial short frame near the end: move it to the front, where it fits.
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        (start, end) = (0, end - start);
                    }
                }

                // Bytes behind the frame may come in the same call only once its buffer holds the rest of it.
                var received = frame.Buffer is null ? BlockingReceive.Receive(_socket, buffer.AsSpan(end), out var error)
                    : frame.HoldsTheRest ? BlockingReceive.Receive(_socket, frame.Rest, buffer, out error)
                    : BlockingReceive.Receive(_socket, frame.Rest, out error);
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

                Volatile.Write(ref _lastReceived, time.GetTimestamp());
                if (frame.Buffer is null)
                {
                    end += received;
                    continue;
                }

                // The frame's rest came first; what came behind it is in the linear buffer.
                var taken = Math.Min(received, frame.Rest.Length);
                frame.Took(taken);
                end = received - taken;
                if (frame.IsWhole)
                {
                    var whole = frame;
                    frame = default;
                    if (!DeliverLong(whole, token))
                    {
                        return;
                    }
                }
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
        finally
        {
            if (frame.Buffer is not null)
            {
                FrameBuffers.Return(frame.Buffer);
            }
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

    /// <summary>Copies a short frame into a pooled buffer and delivers it (<see cref="Deliver(NeighbourId, byte[], int, CancellationToken)"/>).</summary>
    private bool Deliver(NeighbourId from, in ReadOnlySequence<byte> payload, int length, CancellationToken token)
    {
        var bytes = FrameBuffers.Rent(length);
        payload.CopyTo(bytes);
        return Deliver(from, bytes, length, token);
    }

    /// <summary>Delivers a long frame that was received whole into its own buffer, unless it is a straggler after its neighbour went down.</summary>
    private bool DeliverLong(in LongFrameInProgress frame, CancellationToken token)
    {
        var neighbour = Neighbour!;
        if (!neighbour.IsLive)
        {
            FrameBuffers.Return(frame.Buffer);
            return true;
        }

        return Deliver(neighbour.Id, frame.Buffer, frame.Length, token);
    }

    /// <summary>
    /// Writes a frame in a pooled buffer (which moves with it) to Incoming, waiting (blocking
    /// this thread) for room when it is full. False when Incoming is closed: the netmod is
    /// stopping, and the buffer has gone back to the pool.
    /// </summary>
    private bool Deliver(NeighbourId from, byte[] bytes, int length, CancellationToken token)
    {
        var incoming = _runtime.Incoming;
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

    /// <summary>
    /// A long frame being received into its own buffer: its payload's length and how much of it
    /// has come. The buffer is the whole frame's for frames up to <see cref="FirstStep"/> bytes
    /// (every frame the router sends by default); a longer one starts there and doubles as its
    /// bytes fill it, so what a peer makes this side hold follows what it sent, not what its
    /// header announced.
    /// </summary>
    private struct LongFrameInProgress
    {
        private const int FirstStep = 256 * 1024;

        public byte[] Buffer;
        public int Length;
        public int Have;

        /// <summary>Where the next bytes of the payload go (empty once the frame is whole).</summary>
        public readonly Span<byte> Rest => Buffer.AsSpan(Have, Math.Min(Length, Buffer.Length) - Have);

        /// <summary>Whether the whole payload has come.</summary>
        public readonly bool IsWhole => Have == Length;

        /// <summary>Whether <see cref="Rest"/> ends where the frame ends (the buffer is the whole frame's).</summary>
        public readonly bool HoldsTheRest => Buffer.Length >= Length;

        /// <summary>Starts a frame from what of it has come: its header and the start of its payload.</summary>
        public static LongFrameInProgress Start(ReadOnlySpan<byte> received)
        {
            var length = (int)Framing.ReadHeader(received);
            var frame = new LongFrameInProgress { Buffer = FrameBuffers.Rent(Math.Min(length, FirstStep)), Length = length };
            received[Framing.HeaderSize..].CopyTo(frame.Buffer);
            frame.Have = received.Length - Framing.HeaderSize;
            return frame;
        }

        /// <summary>Counts <paramref name="count"/> bytes received into <see cref="Rest"/>; a full buffer short of the frame is replaced by one twice as large.</summary>
        public void Took(int count)
        {
            Have += count;
            if (Have == Buffer.Length && Have < Length)
            {
                var larger = FrameBuffers.Rent((int)Math.Min(Length, 2L * Buffer.Length));
                Buffer.AsSpan(0, Have).CopyTo(larger);
                FrameBuffers.Return(Buffer);
                Buffer = larger;
            }
        }
    }
}
