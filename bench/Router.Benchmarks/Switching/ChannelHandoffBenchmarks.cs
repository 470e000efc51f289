using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Router.Sdk;

namespace Router.Benchmarks.Switching;

/// <summary>
/// What a frame costs to cross a channel, which the switch benchmarks leave out: netmods hand
/// frames to the switch through <see cref="Netmod.Incoming"/> (the inet and udp netmods use a
/// bounded channel of 1,024 with <see cref="BoundedChannelFullMode.Wait"/>), and the inet
/// netmod queues each sent frame on another bounded channel per peer. One write and one read
/// per frame on one thread, so this is the uncontended floor.
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class ChannelHandoffBenchmarks
{
    private const int Frames = 1000;

    private readonly byte[] _buffer = new byte[1400];
    private Channel<InboundFrame> _bounded = null!;
    private Channel<InboundFrame> _unbounded = null!;

    [GlobalSetup]
    public void Setup()
    {
        _bounded = Channel.CreateBounded<InboundFrame>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.Wait });
        _unbounded = Channel.CreateUnbounded<InboundFrame>(new UnboundedChannelOptions { SingleReader = true });
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Frames)]
    public int Bounded1024() => Handoff(_bounded);

    [Benchmark(OperationsPerInvoke = Frames)]
    public int UnboundedSingleReader() => Handoff(_unbounded);

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
}
