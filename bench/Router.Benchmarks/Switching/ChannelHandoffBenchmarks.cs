using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Router.Sdk;

namespace Router.Benchmarks.Switching;

/// <summary>
/// What a frame costs to cross a channel, which the switch benchmarks leave out: netmods hand
/// frames to the switch through <see cref="Netmod.Incoming"/> (the inet and udp netmods use a
/// bounded channel of 1,024 with <see cref="BoundedChannelFullMode.Wait"/>), and the inet
/// netmod queues each sent frame on another bounded channel per peer. One write and one read
/// per frame on one thread, so this is the uncontended floor. The last two are the hand-offs
/// the router has used, each with a consumer that only counts: a bounded channel whose
/// awaiting reader continues inside the write (until SDK 1.8), and a <see cref="FrameChannel"/>
/// whose handler the write calls.
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class ChannelHandoffBenchmarks
{
    private const int Frames = 1000;

    private readonly byte[] _buffer = new byte[1400];
    private Channel<InboundFrame> _bounded = null!;
    private Channel<InboundFrame> _unbounded = null!;
    private Channel<InboundFrame> _awaited = null!;
    private FrameChannel _consumed = null!;
    private CountingHandler _counted = null!;
    private CancellationTokenSource _stop = null!;
    private Task _consumers = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        _bounded = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait });
        _unbounded = Channel.CreateUnbounded<InboundFrame>(new UnboundedChannelOptions { SingleReader = true });
        _awaited = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait, AllowSynchronousContinuations = true });
        _consumed = new FrameChannel(1024);
        _counted = new CountingHandler();
        _stop = new CancellationTokenSource();
        _consumers = Task.WhenAll(AwaitFramesAsync(_awaited.Reader, _counted, _stop.Token), ((FrameChannelReader)_consumed.Reader).ConsumeAsync(_counted, _stop.Token));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop.Cancel();
        _consumers.GetAwaiter().GetResult();
        _stop.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int Bounded1024() => Handoff(_bounded);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int UnboundedSingleReader() => Handoff(_unbounded);

    [Benchmark(OperationsPerInvoke = Frames)]
    public long Bounded1024AwaitingReader() => Write(_awaited);

    [Benchmark(OperationsPerInvoke = Frames)]
    public long FrameChannelConsumed() => Write(_consumed);

    private long Write(Channel<InboundFrame> channel)
    {
        var writer = channel.Writer;
        var before = _counted.Bytes;
        for (var i = 0; i < Frames; i++)
        {
            writer.TryWrite(new InboundFrame(SwitchFixture.From, _buffer, 1400));
        }

        return _counted.Bytes - before;
    }

    /// <summary>The router's consumer loop before SDK 1.8, with nothing behind it.</summary>
    private static async Task AwaitFramesAsync(ChannelReader<InboundFrame> reader, CountingHandler handler, CancellationToken cancellationToken)
    {
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    await handler.HandleAsync(frame).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private int Handoff(Channel<InboundFrame> channel)
    {
        var writer = channel.Writer;
        var reader = channel.Reader;
        var total = 0;
        for (var i = 0; i < Frames; i++)
        {
            writer.TryWrite(new InboundFrame(SwitchFixture.From, _buffer, 1400));
            reader.TryRead(out var frame);
            total += frame.Length;
        }

        return total;
    }

    /// <summary>Counts and keeps nothing (the benchmark's buffer is not pooled, so it is not released).</summary>
    private sealed class CountingHandler : IFrameHandler
    {
        public long Bytes { get; private set; }

        public ValueTask HandleAsync(InboundFrame frame)
        {
            Bytes += frame.Length;
            return ValueTask.CompletedTask;
        }
    }
}
