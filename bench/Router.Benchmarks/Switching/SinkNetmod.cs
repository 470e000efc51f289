using System.Threading.Channels;
using Router.Sdk;

namespace Router.Benchmarks.Switching;

/// <summary>
/// An in-process netmod whose <see cref="SendAsync"/> completes synchronously and only counts:
/// it neither copies nor queues the frame, so a benchmark through it measures the switch and
/// nothing of a real link. Not thread-safe; benchmarks drive it from one thread.
/// </summary>
internal sealed class SinkNetmod(string name, int maxFrameSize) : Netmod
{
    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(1);
    private readonly Channel<NeighbourEvent> _events = Channel.CreateBounded<NeighbourEvent>(1);

    public override NetmodCapabilities Capabilities { get; } = new(name, maxFrameSize, false, LinkKind.PointToPoint);

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    /// <summary>Frames sent; a benchmark checks it to prove frames were forwarded, not dropped.</summary>
    public long Sent { get; private set; }

    /// <summary>Bytes of frames sent.</summary>
    public long SentBytes { get; private set; }

    public override Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        Sent++;
        SentBytes += frame.Length;
        return ValueTask.FromResult(SendResult.Sent);
    }

    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        ValueTask.FromResult(0);

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _incoming.Writer.TryComplete();
        _events.Writer.TryComplete();
        return Task.CompletedTask;
    }
}
