// A netmod's incoming channel that lets the router handle a frame on the thread that wrote it.
//
// Read like any bounded channel, it is one (writers wait for room, TryWrite fails when full or
// completed). Consumed through FrameChannelReader.ConsumeAsync, a write goes straight into the
// router's handler when no other frame is being handled or waits: no queue, no wake-up of the
// reader, no async continuation between the netmod's receive and the router's work. An idle
// frame measured 13–18 µs cold through a bounded channel and an awaiting reader, ~4 µs as a call.
//
// One frame is handled at a time (_busy, taken with a compare-and-swap). A writer that finds
// the handler busy queues its frame and raises _queued; the thread holding _busy handles queued
// frames before any frame of its own, then releases _busy and looks at _queued once more, so a
// frame queued while it released is not left behind (each side fences between its write and
// its read, so at least one of them sees the other's). A frame handled at once touches neither
// the queue nor its lock. When the handler completes asynchronously (backpressure further on),
// _busy stays taken and the continuation drains the queue; writers meanwhile queue, and wait
// for room when the queue is full.
using System.Threading.Channels;

namespace Router.Sdk;

/// <summary>
/// A bounded channel of received frames for <see cref="Netmod.Incoming"/> (SDK 1.8), whose
/// frames the router can handle on the writing thread: see <see cref="FrameChannelReader.ConsumeAsync"/>.
/// </summary>
/// <remarks>
/// Write with <see cref="ChannelWriter{T}.TryWrite"/> and, when it fails because the channel is
/// full, wait with <see cref="ChannelWriter{T}.WaitToWriteAsync"/>; complete the writer when the
/// netmod stops. <see cref="ChannelWriter{T}.TryWrite"/> may run the router's handling of the
/// frame before it returns, so call it where that may run: a netmod's own receive thread, not
/// while holding a lock the router might need. A frame it accepts (true) belongs to the router
/// from then on, handled or queued; on false (full, or completed) it is still the writer's.
/// </remarks>
public sealed class FrameChannel : Channel<InboundFrame>
{
    /// <summary>Creates a channel that holds up to <paramref name="capacity"/> frames while the reader is busy.</summary>
    /// <param name="capacity">How many frames wait at most; writers wait for room beyond that.</param>
    public FrameChannel(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var queue = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,

            // A reader that reads rather than consumes still continues on the writer's thread.
            AllowSynchronousContinuations = true,
        });
        var reader = new FrameChannelReader(queue);
        Reader = reader;
        Writer = new FrameChannelWriter(reader, queue.Writer);
    }

    private sealed class FrameChannelWriter(FrameChannelReader reader, ChannelWriter<InboundFrame> queue) : ChannelWriter<InboundFrame>
    {
        public override bool TryWrite(InboundFrame item) => reader.TryWrite(item);

        public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default) => queue.WaitToWriteAsync(cancellationToken);

        public override bool TryComplete(Exception? error = null)
        {
            reader.MarkCompleted();
            return queue.TryComplete(error);
        }
    }
}

/// <summary>The reading side of a <see cref="FrameChannel"/>: a channel reader, and <see cref="ConsumeAsync"/>.</summary>
public sealed class FrameChannelReader : ChannelReader<InboundFrame>
{
    private readonly Channel<InboundFrame> _queue;
    private Consumer? _consumer;
    private int _busy;
    private int _queued;
    private volatile bool _completed;

    internal FrameChannelReader(Channel<InboundFrame> queue)
    {
        _queue = queue;
    }

    /// <inheritdoc/>
    public override Task Completion => _queue.Reader.Completion;

    /// <inheritdoc/>
    public override bool CanCount => true;

    /// <inheritdoc/>
    public override bool CanPeek => true;

    /// <inheritdoc/>
    public override int Count => _queue.Reader.Count;

    /// <inheritdoc/>
    public override bool TryRead(out InboundFrame item) => _queue.Reader.TryRead(out item);

    /// <inheritdoc/>
    public override bool TryPeek(out InboundFrame item) => _queue.Reader.TryPeek(out item);

    /// <inheritdoc/>
    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _queue.Reader.WaitToReadAsync(cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<InboundFrame> ReadAsync(CancellationToken cancellationToken = default) => _queue.Reader.ReadAsync(cancellationToken);

    /// <summary>
    /// Hands every frame to <paramref name="handler"/>, one at a time, until the channel is
    /// completed and empty, <paramref name="handler"/> throws, or <paramref name="cancellationToken"/>
    /// is cancelled. A frame written while the handler is idle is handled by the writing thread
    /// inside its <see cref="ChannelWriter{T}.TryWrite"/>; frames written meanwhile wait in the
    /// channel and are handled by whichever thread holds the handler, in order.
    /// </summary>
    /// <remarks>
    /// When the returned task completes no call of the handler is running or will start; frames
    /// still in the channel (after cancellation or a fault) are the caller's to read and release.
    /// One consumer at a time; do not read the channel while it consumes.
    /// </remarks>
    /// <param name="handler">Handles each frame; see <see cref="IFrameHandler.HandleAsync"/>.</param>
    /// <param name="cancellationToken">Stops consuming.</param>
    /// <exception cref="InvalidOperationException">Another consumer is attached.</exception>
    public async Task ConsumeAsync(IFrameHandler handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var consumer = new Consumer(handler);
        if (Interlocked.CompareExchange(ref _consumer, consumer, null) is not null)
        {
            throw new InvalidOperationException("This frame channel already has a consumer.");
        }

        try
        {
            // Frames written before the handler was attached.
            TryDrain();
            var ended = await Task.WhenAny(_queue.Reader.Completion, consumer.Fault.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
            await ended.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Detach, then wait for a handler call under way: from here on writers only queue.
            Interlocked.CompareExchange(ref _consumer, null, consumer);
            while (Volatile.Read(ref _busy) != 0)
            {
                await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The writer's TryWrite: handles the frame here when the handler is idle, else queues it.</summary>
    internal bool TryWrite(InboundFrame frame)
    {
        if (!_completed && Volatile.Read(ref _consumer) is not null && Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
        {
            return RunHeld(frame, hasOwn: true);
        }

        if (!_queue.Writer.TryWrite(frame))
        {
            return false;
        }

        // Then make sure it is handled: the thread holding the handler sees the flag when it
        // lets go, or this thread takes the handler (see the top of this file).
        Interlocked.Exchange(ref _queued, 1);
        TryDrain();
        return true;
    }

    /// <summary>The writer completes: later writes fail, as in any channel.</summary>
    internal void MarkCompleted() => _completed = true;

    /// <summary>Takes the handler when frames wait and it is idle, and handles them.</summary>
    private void TryDrain()
    {
        if (Volatile.Read(ref _queued) != 0 && Volatile.Read(ref _consumer) is not null && Interlocked.CompareExchange(ref _busy, 1, 0) == 0)
        {
            RunHeld(default, hasOwn: false);
        }
    }

    /// <summary>
    /// Called holding _busy: handles the queued frames, then <paramref name="own"/>, and lets go.
    /// When a call completes asynchronously, its continuation carries on and lets go; a frame of
    /// our own not yet handled is queued behind the others then (false: the queue is full, and
    /// the frame stays the writer's). False too when the consumer has left and the queue refuses the frame.
    /// </summary>
    private bool RunHeld(InboundFrame own, bool hasOwn)
    {
        var draining = false;
        while (true)
        {
            var consumer = Volatile.Read(ref _consumer);
            if (consumer is null)
            {
                // The consumer left: what is queued waits for whoever reads or consumes next.
                var kept = !hasOwn || _queue.Writer.TryWrite(own);
                Interlocked.Exchange(ref _queued, 1);
                Interlocked.Exchange(ref _busy, 0);
                TryDrain();
                return kept;
            }

            if (!draining && Volatile.Read(ref _queued) != 0)
            {
                // From here until the queue is found empty, this thread takes what is in it.
                Interlocked.Exchange(ref _queued, 0);
                draining = true;
            }

            ValueTask pending;
            if (draining && _queue.Reader.TryRead(out var frame))
            {
                pending = Invoke(consumer, frame, more: hasOwn || _queue.Reader.Count > 0);
            }
            else if (hasOwn)
            {
                draining = false;
                hasOwn = false;
                pending = Invoke(consumer, own, more: false);
            }
            else
            {
                // Nothing left: let go, then look once more (see the top of this file).
                Interlocked.Exchange(ref _busy, 0);
                if (Volatile.Read(ref _queued) == 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
                {
                    return true;
                }

                draining = false;
                continue;
            }

            if (!pending.IsCompletedSuccessfully)
            {
                var queued = !hasOwn || _queue.Writer.TryWrite(own);

                // The continuation takes over the queue, with whatever this thread left in it.
                Interlocked.Exchange(ref _queued, 1);
                _ = ContinueAsync(consumer, pending);
                return queued;
            }
        }
    }

    private async Task ContinueAsync(Consumer consumer, ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Fail(consumer, e);
        }

        RunHeld(default, hasOwn: false);
    }

    private ValueTask Invoke(Consumer consumer, InboundFrame frame, bool more)
    {
        try
        {
            return consumer.Handler.HandleAsync(more && !frame.MoreFollows ? new InboundFrame(frame.From, frame.Buffer, frame.Offset, frame.Length, moreFollows: true) : frame);
        }
        catch (Exception e)
        {
            Fail(consumer, e);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The handler threw: nothing more goes to it, and <see cref="ConsumeAsync"/> ends with the exception.</summary>
    private void Fail(Consumer consumer, Exception e)
    {
        Interlocked.CompareExchange(ref _consumer, null, consumer);
        consumer.Fault.TrySetException(e);
    }

    /// <summary>An attached handler, and how its consumption ends when it throws.</summary>
    private sealed class Consumer(IFrameHandler handler)
    {
        public IFrameHandler Handler { get; } = handler;

        public TaskCompletionSource Fault { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
