using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Tests.Fixtures;

/// <summary>
/// A netmod with no links, shared by the fixture plugins: it starts, stops and reports
/// nothing. Fixtures vary only in what their factory does.
/// </summary>
public class FixtureNetmod(string name, Func<Task>? onStart = null) : Netmod
{
    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(16);
    private readonly Channel<NeighbourEvent> _events = Channel.CreateBounded<NeighbourEvent>(16);

    public override NetmodCapabilities Capabilities { get; } = new(name, 4096, false, LinkKind.PointToPoint);

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    public override Task StartAsync(CancellationToken cancellationToken) => onStart?.Invoke() ?? Task.CompletedTask;

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken) =>
        ValueTask.FromResult(SendResult.NoSuchNeighbour);

    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        ValueTask.FromResult(0);

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _incoming.Writer.TryComplete();
        _events.Writer.TryComplete();
        return Task.CompletedTask;
    }
}

/// <summary>Factory base: validates nothing, creates a <see cref="FixtureNetmod"/>.</summary>
public abstract class FixtureFactory : INetmodFactory
{
    public abstract string Name { get; }

    public virtual IEnumerable<string> Validate(IConfiguration configuration) => [];

    public virtual Netmod Create(NetmodContext context) => new FixtureNetmod(Name);
}
