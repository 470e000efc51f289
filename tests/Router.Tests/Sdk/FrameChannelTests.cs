using System.Buffers.Binary;
using System.Collections.Concurrent;
using Router.Sdk;

namespace Router.Tests.Sdk;

public class FrameChannelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Write_WhileConsumed_IsHandledOnTheWritingThread_BeforeTryWriteReturns()
    {
        var channel = new FrameChannel(8);
        var handler = new RecordingHandler();
        await using var consuming = new Consuming(channel, handler);

        int writerThread = 0;
        var handledBeforeReturn = false;
        var writer = new Thread(() =>
        {
            writerThread = Environment.CurrentManagedThreadId;
            Assert.True(channel.Writer.TryWrite(Frame(0, 1, moreFollows: true)));
            handledBeforeReturn = handler.Count == 1;
        });
        writer.Start();
        writer.Join();

        Assert.True(handledBeforeReturn);
        var handled = Assert.Single(handler.Handled);
        Assert.Equal(writerThread, handled.Thread);
        Assert.True(handled.MoreFollows);
        Assert.Equal(0, channel.Reader.Count);
    }

    [Fact]
    public async Task FramesWrittenBeforeConsuming_AreHandledFirst_InOrder_EachButTheLastMarkedMoreFollows()
    {
        var channel = new FrameChannel(8);
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(channel.Writer.TryWrite(Frame(0, i, moreFollows: false)));
        }

        var handler = new RecordingHandler();
        await using var consuming = new Consuming(channel, handler);

        Assert.Equal([1, 2, 3], handler.Handled.Select(h => h.Sequence));
        Assert.Equal([true, true, false], handler.Handled.Select(h => h.MoreFollows));
    }

    [Fact]
    public async Task HandlerThatWaits_HoldsLaterFramesInTheChannel_ThenTheyFollowInOrder()
    {
        var channel = new FrameChannel(8);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler { WaitOn = sequence => sequence == 1 ? gate.Task : null };
        await using var consuming = new Consuming(channel, handler);

        for (var i = 1; i <= 5; i++)
        {
            Assert.True(channel.Writer.TryWrite(Frame(0, i, moreFollows: false)));
        }

        Assert.Equal(1, handler.Count);
        Assert.Equal(4, channel.Reader.Count);

        gate.SetResult();
        await WaitUntil(() => handler.Count == 5);
        Assert.Equal([1, 2, 3, 4, 5], handler.Handled.Select(h => h.Sequence));
        Assert.Equal([false, true, true, true, false], handler.Handled.Select(h => h.MoreFollows));
    }

    [Fact]
    public async Task Full_WhileTheHandlerWaits_TryWriteFails_AndWaitToWriteAsyncWaitsForRoom()
    {
        var channel = new FrameChannel(2);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler { WaitOn = sequence => sequence == 1 ? gate.Task : null };
        await using var consuming = new Consuming(channel, handler);

        Assert.True(channel.Writer.TryWrite(Frame(0, 1, moreFollows: false)));
        Assert.True(channel.Writer.TryWrite(Frame(0, 2, moreFollows: false)));
        Assert.True(channel.Writer.TryWrite(Frame(0, 3, moreFollows: false)));
        var refused = Frame(0, 4, moreFollows: false);
        Assert.False(channel.Writer.TryWrite(refused));
        var room = channel.Writer.WaitToWriteAsync().AsTask();
        Assert.False(room.IsCompleted);

        gate.SetResult();
        Assert.True(await room.WaitAsync(Timeout));
        Assert.True(channel.Writer.TryWrite(refused));
        await WaitUntil(() => handler.Count == 4);
        Assert.Equal([1, 2, 3, 4], handler.Handled.Select(h => h.Sequence));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(2)]
    public async Task ManyWriters_EveryFrameIsHandledOnce_OneAtATime_InEachWritersOrder(int capacity)
    {
        const int writers = 4;
        const int perWriter = 20_000;
        var channel = new FrameChannel(capacity);
        var handler = new ConcurrentCheckingHandler(writers);
        await using var consuming = new Consuming(channel, handler);

        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            for (var i = 1; i <= perWriter; i++)
            {
                var frame = Frame(w, i, moreFollows: false);
                while (!channel.Writer.TryWrite(frame))
                {
                    Assert.True(channel.Writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult());
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        await WaitUntil(() => handler.Total == writers * perWriter);
        Assert.Equal(0, handler.Overlaps);
        Assert.Equal(0, handler.OutOfOrder);
        Assert.All(handler.Last, last => Assert.Equal(perWriter, last));
        Assert.True(handler.WentAsynchronous > 0);
        Assert.Equal(0, channel.Reader.Count);
    }

    [Fact]
    public async Task TwoWritersAtOnce_LeaveNoFrameWaitingWithNobodyToHandleIt()
    {
        // A frame queued while the other writer's thread lets go of the handler must still be
        // handled now, not when the next frame happens to come.
        const int rounds = 5000;
        var channel = new FrameChannel(8);
        var handler = new ConcurrentCheckingHandler(2, asynchronousEvery: 0);
        await using var consuming = new Consuming(channel, handler);
        using var start = new Barrier(2);
        using var done = new Barrier(2);
        var stranded = 0;
        var threads = Enumerable.Range(0, 2).Select(w => new Thread(() =>
        {
            for (var i = 1; i <= rounds; i++)
            {
                start.SignalAndWait();
                Assert.True(channel.Writer.TryWrite(Frame(w, i, moreFollows: false)));
                done.SignalAndWait();
                if (w == 0)
                {
                    var spin = new SpinWait();
                    var deadline = Environment.TickCount64 + 2000;
                    while (handler.Total < 2 * i && Environment.TickCount64 < deadline)
                    {
                        spin.SpinOnce();
                    }

                    if (handler.Total < 2 * i)
                    {
                        stranded++;
                        break;
                    }
                }
            }
        })).ToList();
        threads[1].IsBackground = true;
        threads.ForEach(t => t.Start());
        threads[0].Join();

        Assert.Equal(0, stranded);
        Assert.Equal(2 * rounds, handler.Total);
        Assert.Equal(0, handler.Overlaps);
        threads[1].Join();    }

    [Fact]
    public async Task CompletingTheWriter_EndsConsumeAsync_AndLaterWritesFail()
    {
        var channel = new FrameChannel(8);
        var handler = new RecordingHandler();
        var consuming = ((FrameChannelReader)channel.Reader).ConsumeAsync(handler, CancellationToken.None);
        Assert.True(channel.Writer.TryWrite(Frame(0, 1, moreFollows: false)));

        channel.Writer.Complete();
        await consuming.WaitAsync(Timeout);

        var late = Frame(0, 2, moreFollows: false);
        Assert.False(channel.Writer.TryWrite(late));
        late.Release();
        Assert.Equal(1, handler.Count);
    }

    [Fact]
    public async Task AfterCancellation_FramesWaitInTheChannel_ForWhoeverReadsIt()
    {
        var channel = new FrameChannel(8);
        var handler = new RecordingHandler();
        await new Consuming(channel, handler).DisposeAsync();

        Assert.True(channel.Writer.TryWrite(Frame(0, 7, moreFollows: false)));
        Assert.Equal(0, handler.Count);
        Assert.True(channel.Reader.TryRead(out var frame));
        Assert.Equal(7, BinaryPrimitives.ReadInt32LittleEndian(frame.Span));
        frame.Release();
    }

    [Fact]
    public async Task HandlerThatThrows_EndsConsumeAsyncWithTheException_AndNotTheWriter()
    {
        var channel = new FrameChannel(8);
        var handler = new RecordingHandler { ThrowOn = 2 };
        var consuming = ((FrameChannelReader)channel.Reader).ConsumeAsync(handler, CancellationToken.None);

        Assert.True(channel.Writer.TryWrite(Frame(0, 1, moreFollows: false)));
        Assert.True(channel.Writer.TryWrite(Frame(0, 2, moreFollows: false)));
        var thrown = await Assert.ThrowsAsync<InvalidDataException>(() => consuming.WaitAsync(Timeout));
        Assert.Equal("frame 2", thrown.Message);

        // Nothing goes to the handler any more; frames queue for whoever reads next.
        Assert.True(channel.Writer.TryWrite(Frame(0, 3, moreFollows: false)));
        Assert.Equal(2, handler.Count);
        Assert.Equal(1, channel.Reader.Count);
        Assert.True(channel.Reader.TryRead(out var left));
        left.Release();
    }

    [Fact]
    public async Task ASecondConsumer_IsRefused()
    {
        var channel = new FrameChannel(8);
        await using var consuming = new Consuming(channel, new RecordingHandler());

        await Assert.ThrowsAsync<InvalidOperationException>(() => ((FrameChannelReader)channel.Reader).ConsumeAsync(new RecordingHandler(), CancellationToken.None));
    }

    [Fact]
    public async Task WithoutAConsumer_ItIsAPlainBoundedChannel()
    {
        var channel = new FrameChannel(2);
        Assert.True(channel.Writer.TryWrite(Frame(0, 1, moreFollows: false)));
        Assert.True(channel.Writer.TryWrite(Frame(0, 2, moreFollows: false)));
        var refused = Frame(0, 3, moreFollows: false);
        Assert.False(channel.Writer.TryWrite(refused));
        refused.Release();

        var first = await channel.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(first.Span));
        first.Release();
        Assert.True(channel.Reader.TryPeek(out _));
        channel.Writer.Complete();
        Assert.True(channel.Reader.TryRead(out var second));
        second.Release();
        await channel.Reader.Completion.WaitAsync(Timeout);
    }

    private static InboundFrame Frame(int writer, int sequence, bool moreFollows)
    {
        var buffer = FrameBuffers.Rent(16);
        BinaryPrimitives.WriteInt32LittleEndian(buffer, sequence);
        return new InboundFrame(new NeighbourId(writer), buffer, 0, 4, moreFollows);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(5);
        }
    }

    private sealed record Handling(int Sequence, bool MoreFollows, int Thread);

    /// <summary>A channel consumed until disposed, which cancels the consumption and waits for its end.</summary>
    private sealed class Consuming : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public Consuming(FrameChannel channel, IFrameHandler handler)
        {
            Task = ((FrameChannelReader)channel.Reader).ConsumeAsync(handler, _stop.Token);
        }

        public Task Task { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Task.WaitAsync(Timeout);
            _stop.Dispose();
        }
    }

    private sealed class RecordingHandler : IFrameHandler
    {
        private readonly ConcurrentQueue<Handling> _handled = new();

        public Func<int, Task?> WaitOn { get; init; } = _ => null;

        public int ThrowOn { get; init; }

        public IReadOnlyList<Handling> Handled => [.. _handled];

        public int Count => _handled.Count;

        public ValueTask HandleAsync(InboundFrame frame)
        {
            var sequence = BinaryPrimitives.ReadInt32LittleEndian(frame.Span);
            _handled.Enqueue(new Handling(sequence, frame.MoreFollows, Environment.CurrentManagedThreadId));
            frame.Release();
            if (sequence == ThrowOn)
            {
                throw new InvalidDataException($"frame {sequence}");
            }

            return WaitOn(sequence) is { } wait ? new ValueTask(wait) : ValueTask.CompletedTask;
        }
    }

    /// <summary>Checks that calls never overlap and each writer's frames come in order; every so many calls one completes later.</summary>
    private sealed class ConcurrentCheckingHandler(int writers, int asynchronousEvery = 97) : IFrameHandler
    {
        private int _inside;
        private int _total;

        public int[] Last { get; } = new int[writers];

        public int Overlaps { get; private set; }

        public int OutOfOrder { get; private set; }

        public int WentAsynchronous { get; private set; }

        public int Total => Volatile.Read(ref _total);

        public ValueTask HandleAsync(InboundFrame frame)
        {
            if (Interlocked.Increment(ref _inside) != 1)
            {
                Overlaps++;
            }

            var writer = (int)frame.From.Value;
            var sequence = BinaryPrimitives.ReadInt32LittleEndian(frame.Span);
            frame.Release();
            if (sequence != Last[writer] + 1)
            {
                OutOfOrder++;
            }

            Last[writer] = sequence;
            if (asynchronousEvery > 0 && (sequence + writer) % asynchronousEvery == 0)
            {
                WentAsynchronous++;
                return new ValueTask(FinishLaterAsync());
            }

            Finish();
            return ValueTask.CompletedTask;
        }

        private async Task FinishLaterAsync()
        {
            await Task.Yield();
            Finish();
        }

        private void Finish()
        {
            Interlocked.Decrement(ref _inside);
            Interlocked.Increment(ref _total);
        }
    }
}
