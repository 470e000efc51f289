using System.Threading.Channels;
using Router.Sdk;

namespace Router.Tests.Switching;

/// <summary>
/// An in-process netmod for switch tests: frames pushed with <see cref="Inject"/> come out of
/// <see cref="Incoming"/>; sent frames are counted and the last one kept, without allocating.
/// </summary>
internal sealed class MemoryNetmod(string name, int maxFrameSize = 4096) : Netmod
{
    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(1024);
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();
    private readonly byte[] _last = new byte[maxFrameSize];

    public override NetmodCapabilities Capabilities { get; } = new(name, maxFrameSize, false, LinkKind.PointToPoint);

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    public HashSet<NeighbourId> Neighbours { get; } = [];

    public int Sent { get; private set; }

    public NeighbourId LastTarget { get; private set; }

    public byte[] LastFrame => _last.AsSpan(0, LastLength).ToArray();

    public int LastLength { get; private set; }

    /// <summary>When set, a copy of every frame sent is added here (allocates; not for allocation tests).</summary>
    public List<byte[]>? Recorded { get; init; }

    public void Inject(NeighbourId from, ReadOnlySpan<byte> frame)
    {
        var buffer = FrameBuffers.Rent(frame.Length);
        frame.CopyTo(buffer);
        Assert.True(_incoming.Writer.TryWrite(new InboundFrame(from, buffer, frame.Length)));
    }

    public void Complete() => _incoming.Writer.TryComplete();

    public override Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (!Neighbours.Contains(neighbour))
        {
            return ValueTask.FromResult(SendResult.NoSuchNeighbour);
        }

        Recorded?.Add(frame.ToArray());
        frame.Span.CopyTo(_last);
        LastLength = frame.Length;
        LastTarget = neighbour;
        Sent++;
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
