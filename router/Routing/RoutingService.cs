using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Hosting;
using Router.Identity;
using Router.Sdk;
using Router.Switching;

namespace Router.Routing;

/// <summary>
/// Runs the <see cref="RoutingEngine"/> inside the router: one task owns the engine, fed by a
/// bounded queue of neighbour events and routing frames (a full queue makes the switch wait:
/// control traffic is not dropped), with the engine's timers on the router's clock. The
/// engine's messages become link-local frames (hop limit 1, addressed to the neighbour) sent
/// on the neighbour's netmod; its selected routes are published to the <see cref="RouteTable"/>
/// after every change.
/// </summary>
internal sealed partial class RoutingService : IHostedService, IRoutingOutput
{
    private readonly Channel<Input> _inputs = Channel.CreateBounded<Input>(new BoundedChannelOptions(4096) { SingleReader = true });
    private readonly Dictionary<(NetmodInstance, NeighbourId), RoutingNeighbour> _neighbours = [];
    private readonly List<Outgoing> _outgoing = [];
    private readonly List<RouteAdvert> _adverts = [];
    private readonly RouterAddress _self;
    private readonly RoutingOptions _options;
    private readonly RouteTable _routes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _start;
    private readonly CancellationTokenSource _stopping = new();
    private RoutingEngine? _engine;
    private Task? _loop;
    private bool _routesChanged;
    private volatile IReadOnlyList<SelectedRoute> _selected = [];

    public RoutingService(RouterIdentity identity, RoutingOptions options, RouteTable routes, TimeProvider time, ILogger<RoutingService> logger)
    {
        _self = identity.Address;
        _options = options;
        _routes = routes;
        _time = time;
        _logger = logger;
        _start = time.GetTimestamp();
    }

    /// <summary>Routing frames dropped: unknown neighbour, source not the neighbour, or malformed.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    private long _rejected;

    private TimeSpan Now => _time.GetElapsedTime(_start);

    /// <summary>The selected routes as of the last change, for status and the CLI.</summary>
    public IReadOnlyList<SelectedRoute> SelectedRoutes => _selected;

    public TimeSpan Uptime => Now;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A random first seqno makes it unlikely that a restarted router's routes look old.
        _engine = new RoutingEngine(_self, _options, this, Now, (ushort)Random.Shared.Next(ushort.MaxValue));
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _inputs.Writer.TryComplete();
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>A netmod reported a neighbour up or down.</summary>
    public ValueTask PostAsync(NetmodInstance netmod, NeighbourEvent e, CancellationToken cancellationToken) =>
        _inputs.Writer.WriteAsync(new Input(netmod, e.Neighbour, e.Kind == NeighbourEventKind.Up ? InputKind.Up : InputKind.Down, e.Address, null, 0), cancellationToken);

    /// <summary>A routing frame arrived for this router; the payload is copied.</summary>
    public ValueTask PostAsync(NetmodInstance netmod, NeighbourId from, in FrameHeader header, ReadOnlySpan<byte> payload, CancellationToken cancellationToken)
    {
        var kind = header.Kind switch
        {
            FrameKind.Hello => InputKind.Hello,
            FrameKind.Update => InputKind.Update,
            _ => InputKind.SeqnoRequest,
        };
        var buffer = FrameBuffers.Rent(Math.Max(1, payload.Length));
        payload.CopyTo(buffer);
        var input = new Input(netmod, from, kind, header.Source, buffer, payload.Length);
        if (_inputs.Writer.TryWrite(input))
        {
            return ValueTask.CompletedTask;
        }

        return WriteSlowAsync(input, cancellationToken);
    }

    private async ValueTask WriteSlowAsync(Input input, CancellationToken cancellationToken)
    {
        try
        {
            await _inputs.Writer.WriteAsync(input, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            FrameBuffers.Return(input.Buffer!);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var engine = _engine!;
        var reader = _inputs.Reader;
        var next = engine.Tick(Now);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var wait = next - Now;
                if (wait > TimeSpan.Zero && !reader.TryPeek(out _))
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(wait);
                    try
                    {
                        if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
                        {
                            return;
                        }
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The timer is due.
                    }
                }

                try
                {
                    while (reader.TryRead(out var input))
                    {
                        Handle(engine, input);
                    }

                    if (Now >= next)
                    {
                        next = engine.Tick(Now);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A bug must not freeze routing: report it and carry on with the next input.
                    Log.Failed(_logger, e);
                    next = Now + _options.HelloInterval;
                }

                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Handle(RoutingEngine engine, Input input)
    {
        var key = (input.Netmod, input.Neighbour);
        try
        {
            switch (input.Kind)
            {
                case InputKind.Up:
                    if (input.Address.IsNone || input.Address == _self)
                    {
                        Log.NeighbourWithoutAddress(_logger, input.Netmod.Name, input.Neighbour.Value);
                        return;
                    }

                    var neighbour = new RoutingNeighbour(input.Address, new NextHop(input.Netmod, input.Neighbour, input.Address));
                    _neighbours[key] = neighbour;
                    engine.NeighbourUp(neighbour, Now);
                    return;

                case InputKind.Down:
                    if (_neighbours.Remove(key, out var gone))
                    {
                        engine.NeighbourDown(gone, Now);
                    }

                    return;
            }

            // Routing frames: only from a known neighbour, and only about itself as the sender.
            if (!_neighbours.TryGetValue(key, out var from) || from.Address != input.Address)
            {
                Interlocked.Increment(ref _rejected);
                return;
            }

            var payload = input.Buffer.AsSpan(0, input.Length);
            switch (input.Kind)
            {
                case InputKind.Hello when Hello.TryRead(payload, out var hello):
                    engine.OnHello(from, hello, Now);
                    break;
                case InputKind.Update when UpdateMessage.TryRead(payload, _adverts, out var interval):
                    engine.OnUpdate(from, interval, _adverts, Now);
                    break;
                case InputKind.SeqnoRequest when SeqnoRequest.TryRead(payload, out var request):
                    engine.OnSeqnoRequest(from, request, Now);
                    break;
                default:
                    Interlocked.Increment(ref _rejected);
                    break;
            }
        }
        finally
        {
            if (input.Buffer is not null)
            {
                FrameBuffers.Return(input.Buffer);
            }
        }
    }

    /// <summary>Sends the frames the engine produced, then republishes routes if they changed.</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        foreach (var frame in _outgoing)
        {
            try
            {
                await frame.Hop.Netmod.Netmod.SendAsync(frame.Hop.Neighbour, frame.Buffer.AsMemory(0, frame.Length), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.SendFailed(_logger, frame.Hop.Netmod.Name, e.Message);
            }
            finally
            {
                FrameBuffers.Return(frame.Buffer);
            }
        }

        _outgoing.Clear();
        if (_routesChanged)
        {
            _routesChanged = false;
            var selected = _engine!.SelectedRoutes().ToList();
            _routes.Publish(selected.Select(r => new KeyValuePair<RouterAddress, NextHop>(r.Destination, (NextHop)r.NextHop.Link)));
            _selected = selected;
        }
    }

    private Span<byte> Frame(RoutingNeighbour to, FrameKind kind, int payloadLength)
    {
        var hop = (NextHop)to.Link;
        var length = FrameHeader.Size + payloadLength;
        var buffer = FrameBuffers.Rent(length);
        new FrameHeader(kind, 1, to.Address, _self, 0, (uint)payloadLength, 0).Write(buffer);
        _outgoing.Add(new Outgoing(hop, buffer, length));
        return buffer.AsSpan(FrameHeader.Size, payloadLength);
    }

    void IRoutingOutput.SendHello(RoutingNeighbour to, in Hello hello) => hello.Write(Frame(to, FrameKind.Hello, Hello.Size));

    void IRoutingOutput.SendUpdate(RoutingNeighbour to, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        // Cut into frames that fit the neighbour's link.
        var perFrame = Math.Max(1, UpdateMessage.Capacity(((NextHop)to.Link).Netmod.MaxFrameSize - FrameHeader.Size));
        do
        {
            var chunk = routes[..Math.Min(perFrame, routes.Length)];
            UpdateMessage.Write(Frame(to, FrameKind.Update, UpdateMessage.Size(chunk.Length)), intervalCentiseconds, chunk);
            routes = routes[chunk.Length..];
        }
        while (routes.Length > 0);
    }

    void IRoutingOutput.SendSeqnoRequest(RoutingNeighbour to, in SeqnoRequest request) => request.Write(Frame(to, FrameKind.SeqnoRequest, SeqnoRequest.Size));

    void IRoutingOutput.RoutesChanged() => _routesChanged = true;

    private enum InputKind
    {
        Up,
        Down,
        Hello,
        Update,
        SeqnoRequest,
    }

    private readonly record struct Input(NetmodInstance Netmod, NeighbourId Neighbour, InputKind Kind, RouterAddress Address, byte[]? Buffer, int Length);

    private readonly record struct Outgoing(NextHop Hop, byte[] Buffer, int Length);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Neighbour {Neighbour} on netmod '{Netmod}' has no router address; routing ignores it")]
        public static partial void NeighbourWithoutAddress(ILogger logger, string netmod, long neighbour);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Sending a routing frame on netmod '{Netmod}' failed: {Reason}")]
        public static partial void SendFailed(ILogger logger, string netmod, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Routing failed to handle an input; continuing")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
