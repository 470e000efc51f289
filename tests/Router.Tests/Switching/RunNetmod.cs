using System.Threading.Channels;
using Router.Sdk;

namespace Router.Tests.Switching;

/// <summary>
/// An in-process netmod that takes runs (<see cref="IFrameRunFeature"/>) with
/// <see cref="FrameHeadroom"/> bytes before each frame: every run is recorded and cut back into
/// its frames, in <see cref="Frames"/>, as single sends are. Its own marker goes into each
/// frame's headroom, as a real netmod writes its header there.
/// </summary>
internal sealed class RunNetmod(string name, int maxFrameSize, int headroom) : Netmod, IFrameRunFeature
{
    public const byte HeadroomMarker = 0xA5;

    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(16);
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();

    public override NetmodCapabilities Capabilities { get; } = new(name, maxFrameSize, false, LinkKind.PointToPoint);

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    public int FrameHeadroom => headroom;

    /// <summary>Every frame sent, alone or in a run, in order.</summary>
    public List<byte[]> Frames { get; } = [];

    /// <summary>Each run's stride and length.</summary>
    public List<(int Stride, int Length)> Runs { get; } = [];

    /// <summary>What <see cref="SendRunAsync"/> answers; anything but Sent records nothing.</summary>
    public SendResult RunResult { get; set; } = SendResult.Sent;

    public ValueTask<SendResult> SendRunAsync(NeighbourId neighbour, Memory<byte> run, int stride, CancellationToken cancellationToken)
    {
        if (RunResult != SendResult.Sent)
        {
            return ValueTask.FromResult(RunResult);
        }

        Runs.Add((stride, run.Length));
        for (var start = 0; start < run.Length; start += stride)
        {
            run.Span.Slice(start, headroom).Fill(HeadroomMarker);
            Frames.Add(run.Span[(start + headroom)..Math.Min(start + stride, run.Length)].ToArray());
        }

        return ValueTask.FromResult(SendResult.Sent);
    }

    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        Frames.Add(frame.ToArray());
        return ValueTask.FromResult(SendResult.Sent);
    }

    public override Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        ValueTask.FromResult(0);

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _incoming.Writer.TryComplete();
        _events.Writer.TryComplete();
        return Task.CompletedTask;
    }
}
