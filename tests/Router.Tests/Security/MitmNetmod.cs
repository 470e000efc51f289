using System.Threading.Channels;
using Router.Sdk;

namespace Router.Tests.Security;

/// <summary>What the attacker in a <see cref="MitmNetmod"/> did, by kind.</summary>
internal sealed class MitmCounters
{
    public int Flipped;
    public int Truncated;
    public int Replayed;
    public int Reordered;
    public int Dropped;
    public int Injected;

    public override string ToString() =>
        $"flipped {Flipped}, truncated {Truncated}, replayed {Replayed}, reordered {Reordered}, dropped {Dropped}, injected {Injected}";
}

/// <summary>
/// A man in the middle on every link of the netmod it wraps: while <see cref="Active"/>, it
/// flips bits in, truncates, replays, reorders and drops the frames passing in both
/// directions, and injects frames of its own (from <see cref="Forge"/>). Neighbour events and
/// everything else pass through. Seeded, so a failing run can be repeated.
/// </summary>
internal sealed class MitmNetmod : Netmod
{
    private readonly Netmod _inner;
    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(1024);
    private readonly Random _random;
    private readonly List<byte[]> _seen = [];
    private readonly CancellationTokenSource _stopping = new();
    private (NeighbourId From, byte[] Frame)? _held;
    private Task? _pump;

    public MitmNetmod(Netmod inner, int seed)
    {
        _inner = inner;
        _random = new Random(seed);
    }

    /// <summary>Whether the attacker tampers; off, it is a plain wire.</summary>
    public volatile bool Active;

    /// <summary>Makes frames to inject into the router (towards the neighbour <c>from</c>); null injects nothing.</summary>
    public Func<Random, byte[]>? Forge { get; set; }

    public MitmCounters Counters { get; } = new();

    public override NetmodCapabilities Capabilities => _inner.Capabilities;

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _inner.NeighbourEvents;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await _inner.StartAsync(cancellationToken);
        _pump ??= Task.Run(PumpAsync, CancellationToken.None);
    }

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => _inner.AddPeersAsync(peers, cancellationToken);

    public override async ValueTask<SendResult> SendAsync(NeighbourId target, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        if (!Active)
        {
            return await _inner.SendAsync(target, frame, cancellationToken);
        }

        SendResult result = SendResult.Sent;
        foreach (var tampered in Tamper(target, frame.ToArray()))
        {
            result = await _inner.SendAsync(tampered.From, tampered.Frame, cancellationToken);
        }

        return result;
    }

    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        _inner.SendAllAsync(frame, except, cancellationToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _inner.StopAsync(cancellationToken);
        if (_pump is not null)
        {
            await _pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _incoming.Writer.TryComplete();
    }

    /// <summary>Frames from the neighbours, tampered with on the way in.</summary>
    private async Task PumpAsync()
    {
        try
        {
            await foreach (var frame in _inner.Incoming.ReadAllAsync(_stopping.Token))
            {
                var bytes = frame.Span.ToArray();
                var from = frame.From;
                frame.Release();
                var output = Active ? Tamper(from, bytes) : [(from, bytes)];
                foreach (var (source, tampered) in output)
                {
                    var buffer = FrameBuffers.Rent(Math.Max(1, tampered.Length));
                    tampered.CopyTo(buffer, 0);
                    await _incoming.Writer.WriteAsync(new InboundFrame(source, buffer, tampered.Length), _stopping.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>What the attacker lets through (and adds) for one frame, in order.</summary>
    private List<(NeighbourId From, byte[] Frame)> Tamper(NeighbourId neighbour, byte[] frame)
    {
        var output = new List<(NeighbourId, byte[])>();
        lock (_random)
        {
            if (_seen.Count < 256)
            {
                _seen.Add(frame);
            }
            else
            {
                _seen[_random.Next(_seen.Count)] = frame;
            }

            var roll = _random.Next(100);
            switch (roll)
            {
                case < 15:
                    var flipped = (byte[])frame.Clone();
                    for (var i = _random.Next(1, 9); i > 0 && flipped.Length > 0; i--)
                    {
                        flipped[_random.Next(flipped.Length)] ^= (byte)(1 << _random.Next(8));
                    }

                    output.Add((neighbour, flipped));
                    Counters.Flipped++;
                    break;
                case < 22:
                    output.Add((neighbour, frame[.._random.Next(frame.Length)]));
                    Counters.Truncated++;
                    break;
                case < 32:
                    output.Add((neighbour, frame));
                    output.Add((neighbour, _seen[_random.Next(_seen.Count)]));
                    Counters.Replayed++;
                    break;
                case < 42:
                    // Hold this one back; let it go after the next frame.
                    if (_held is { } earlier)
                    {
                        output.Add(earlier);
                    }

                    _held = (neighbour, frame);
                    Counters.Reordered++;
                    return output;
                case < 50:
                    Counters.Dropped++;
                    break;
                case < 60 when Forge is not null:
                    output.Add((neighbour, frame));
                    output.Add((neighbour, Forge(_random)));
                    Counters.Injected++;
                    break;
                default:
                    output.Add((neighbour, frame));
                    break;
            }

            if (_held is { } held && roll >= 42)
            {
                output.Add(held);
                _held = null;
            }
        }

        return output;
    }
}
