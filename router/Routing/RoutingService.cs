using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Hosting;
using Router.Identity;
using Router.Sdk;
using Router.Security.Links;
using Router.Switching;

namespace Router.Routing;

/// <summary>
/// Runs the <see cref="RoutingEngine"/> inside the router: one task owns the engine, fed by a
/// bounded queue of neighbour events and routing frames (a full queue makes the switch wait:
/// control traffic is not dropped), with the engine's timers on the router's clock. The
/// engine's messages become link-local frames (hop limit 1, addressed to the neighbour) sent
/// on the neighbour's netmod; its selected routes are published to the <see cref="RouteTable"/>
/// after every change. Every route in a received update is checked by the
/// <see cref="OriginVerifier"/> before the engine sees it; the engine's own route is signed
/// with this router's key (<see cref="OriginSigner"/>).
/// </summary>
internal sealed partial class RoutingService : IHostedService, IRoutingOutput
{
    private static readonly Input TickInput = new(null!, default, InputKind.Tick, default, null, 0);

    private readonly Channel<Input> _inputs = Channel.CreateBounded<Input>(new BoundedChannelOptions(4096) { SingleReader = true });
    private readonly Dictionary<(NetmodInstance, NeighbourId), RoutingNeighbour> _neighbours = [];
    private readonly List<Outgoing> _outgoing = [];
    private readonly List<RouteAdvert> _adverts = [];
    private readonly List<MissingProof> _missingProofs = [];
    private readonly RouterAddress _self;
    private readonly RoutingOptions _options;
    private readonly RouteTable _routes;
    private readonly PrefixTable _prefixes;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LinkTable _links;
    private readonly OriginSigner _signer;
    private readonly OriginVerifier _origins;
    private readonly long _start;
    private readonly CancellationTokenSource _stopping = new();
    private RoutingEngine? _engine;
    private Task? _loop;
    private bool _routesChanged;
    private volatile IReadOnlyList<SelectedRoute> _selected = [];
    private volatile RoutingNeighbour[] _neighbourList = [];
    private IReadOnlyList<IPNetwork> _ownPrefixes = [];

    public RoutingService(RouterIdentity identity, RoutingOptions options, RouteTable routes, PrefixTable prefixes, LinkTable links, TimeProvider time, ILogger<RoutingService> logger)
    {
        _prefixes = prefixes;
        _links = links;
        _self = identity.Address;
        _options = options;
        _routes = routes;
        _time = time;
        _logger = logger;
        _signer = new OriginSigner(identity);

        // One cached origin per destination the table may hold, plus this router itself.
        _origins = new OriginVerifier(options.MaxRoutes + 1);
        _start = time.GetTimestamp();
    }

    /// <summary>Routing frames dropped: unknown neighbour, source not the neighbour, or malformed.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    private long _rejected;

    /// <summary>Route entries dropped for carrying no origin proof (a type-1 entry with a finite metric): <c>unsignedRoute</c>.</summary>
    public long UnsignedRoutes => _origins.UnsignedRoutes;

    /// <summary>Route entries dropped because the origin key does not hash to the origin address or does not parse: <c>badOriginKey</c>.</summary>
    public long BadOriginKeys => _origins.BadOriginKeys;

    /// <summary>Route entries dropped because the origin signature does not verify: <c>badOriginSignature</c>.</summary>
    public long BadOriginSignatures => _origins.BadOriginSignatures;

    /// <summary>Origin signatures checked; entries that matched the verified-origin cache are not counted.</summary>
    public long OriginVerifications => _origins.Verifications;

    /// <summary>Signed route entries accepted from the verified-origin cache without a signature check.</summary>
    public long OriginCacheHits => _origins.CacheHits;

    /// <summary>Routes by proof reference accepted: the reference named a proof this router had verified.</summary>
    public long ProofReferencesResolved => _origins.ProofReferencesResolved;

    /// <summary>Routes by proof reference dropped because no matching verified proof was cached: <c>unknownProofReference</c>. Each makes the router ask the sender for the proof.</summary>
    public long UnknownProofReferences => _origins.UnknownProofReferences;

    /// <summary>Seqno requests sent to ask neighbours for proofs they referred to (at most one per neighbour and origin per hello interval).</summary>
    public long ProofRequests => _engine?.ProofRequests ?? 0;

    /// <summary>This router's own origin statements signed (one per change of its seqno).</summary>
    public long OriginSignatures => _signer.Signatures;

    /// <summary>
    /// Routes to new destinations ignored because the table held <see cref="RoutingOptions.MaxRoutes"/>.
    /// Written by the routing task; a read from another thread may be a moment behind.
    /// </summary>
    public long RouteLimitHits => _engine?.RouteLimitHits ?? 0;

    private TimeSpan Now => _time.GetElapsedTime(_start);

    /// <summary>
    /// The neighbours routing measures, for status and the dashboard: replaced whole when one comes
    /// or goes. Their RTT and cost are written by the routing task and read here without a lock:
    /// each is one word, so a reader sees a value at most one hello old, never a torn one.
    /// </summary>
    public IReadOnlyList<RoutingNeighbour> Neighbours => _neighbourList;

    /// <summary>The selected routes as of the last change, for status and the CLI.</summary>
    public IReadOnlyList<SelectedRoute> SelectedRoutes => _selected;

    public TimeSpan Uptime => Now;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // A random first seqno makes it unlikely that a restarted router's routes look old.
        _engine = new RoutingEngine(_self, _options, this, Now, (ushort)Random.Shared.Next(ushort.MaxValue), _signer);
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

    /// <summary>
    /// Sets the IP prefixes this router announces (its IP interface's, or none): they are
    /// signed into this router's route under a new seqno and sent to every neighbour. Prefixes
    /// that cannot be announced (too many for a route entry) are logged and none are announced.
    /// </summary>
    public ValueTask SetOwnPrefixesAsync(IReadOnlyList<IPNetwork> prefixes, CancellationToken cancellationToken) =>
        _inputs.Writer.WriteAsync(new Input(null!, default, InputKind.OwnPrefixes, _self, null, 0, prefixes), cancellationToken);

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
        // When the engine's next timer is due, a one-shot timer writes a tick input: an idle
        // loop wakes without a cancelled wait (an exception each time).
        using var timer = _time.CreateTimer(static state => ((RoutingService)state!)._inputs.Writer.TryWrite(TickInput), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var wait = next - Now;
                if (wait > TimeSpan.Zero && !reader.TryPeek(out _))
                {
                    timer.Change(wait, Timeout.InfiniteTimeSpan);
                    if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
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
                    _neighbourList = [.. _neighbours.Values];
                    engine.NeighbourUp(neighbour, Now);
                    return;

                case InputKind.Down:
                    if (_neighbours.Remove(key, out var gone))
                    {
                        _neighbourList = [.. _neighbours.Values];
                        engine.NeighbourDown(gone, Now);
                    }

                    return;

                case InputKind.OwnPrefixes:
                    AnnounceOwnPrefixes(engine, input.Prefixes!);
                    return;

                case InputKind.Tick:
                    return; // only wakes the loop; the engine's timers run after the inputs
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
                case InputKind.Update when _origins.TryReadUpdate(payload, _adverts, _missingProofs, out var interval):
                    engine.OnUpdate(from, interval, _adverts, Now);
                    if (_missingProofs.Count > 0)
                    {
                        engine.RequestProofs(from, _missingProofs, Now);
                    }

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

    private void AnnounceOwnPrefixes(RoutingEngine engine, IReadOnlyList<IPNetwork> prefixes)
    {
        string? problem = null;
        var block = prefixes.Count == 0 ? null : AnnouncedPrefixes.TryEncode(prefixes, out problem);
        if (prefixes.Count > 0 && block is null)
        {
            Log.PrefixesRefused(_logger, string.Join(", ", prefixes), problem!);
            prefixes = [];
        }

        _ownPrefixes = prefixes.Count == 0 ? [] : AnnouncedPrefixes.Canonical(prefixes);
        _signer.PrefixBlock = block;
        engine.OwnAnnouncementChanged(Now);
        _routesChanged = true;
        if (prefixes.Count > 0)
        {
            Log.PrefixesAnnounced(_logger, string.Join(", ", _ownPrefixes));
        }
    }

    /// <summary>Sends the frames the engine produced, then republishes routes if they changed.</summary>
    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        foreach (var frame in _outgoing)
        {
            try
            {
                // Control frames travel only sealed; a link that is gone (or re-handshaking from scratch) gets nothing.
                if (_links.TrySeal(frame.Hop.Netmod, frame.Hop.Neighbour, frame.Buffer, frame.Length, out var sealedLength))
                {
                    await frame.Hop.Netmod.SendAsync(frame.Hop.Neighbour, frame.Buffer.AsMemory(0, sealedLength), cancellationToken).ConfigureAwait(false);
                }
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
            _prefixes.Publish(_ownPrefixes, selected);
            _selected = selected;
        }
    }

    private Span<byte> Frame(RoutingNeighbour to, FrameKind kind, int payloadLength)
    {
        var hop = (NextHop)to.Link;
        var length = FrameHeader.Size + payloadLength;
        var buffer = FrameBuffers.Rent(length + LinkSession.TrailerSize);
        new FrameHeader(kind, 1, to.Address, _self, 0, (uint)payloadLength, 0).Write(buffer);
        _outgoing.Add(new Outgoing(hop, buffer, length));
        return buffer.AsSpan(FrameHeader.Size, payloadLength);
    }

    void IRoutingOutput.SendHello(RoutingNeighbour to, in Hello hello) => hello.Write(Frame(to, FrameKind.Hello, Hello.Size));

    void IRoutingOutput.SendUpdate(RoutingNeighbour to, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        // Cut into frames that fit the neighbour's link; entries differ in size (a retraction is
        // 38 bytes, a route by proof reference 46, a signed route 194). At least one entry per
        // frame: a link whose frames cannot hold one signed route (header + 2 + 194 + trailer)
        // makes the netmod refuse the frame.
        var capacity = ((NextHop)to.Link).Netmod.MaxFrameSize - FrameHeader.Size - LinkSession.TrailerSize;
        do
        {
            var count = 0;
            var size = UpdateMessage.HeaderSize;
            while (count < routes.Length && (count == 0 || size + UpdateMessage.EntrySize(routes[count]) <= capacity))
            {
                size += UpdateMessage.EntrySize(routes[count]);
                count++;
            }

            UpdateMessage.Write(Frame(to, FrameKind.Update, size), intervalCentiseconds, routes[..count]);
            routes = routes[count..];
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
        OwnPrefixes,

        /// <summary>The engine's next timer is due (written by the loop's timer).</summary>
        Tick,
    }

    private readonly record struct Input(NetmodInstance Netmod, NeighbourId Neighbour, InputKind Kind, RouterAddress Address, byte[]? Buffer, int Length, IReadOnlyList<IPNetwork>? Prefixes = null);

    private readonly record struct Outgoing(NextHop Hop, byte[] Buffer, int Length);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Neighbour {Neighbour} on netmod '{Netmod}' has no router address; routing ignores it")]
        public static partial void NeighbourWithoutAddress(ILogger logger, string netmod, long neighbour);

        [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Sending a routing frame on netmod '{Netmod}' failed: {Reason}")]
        public static partial void SendFailed(ILogger logger, string netmod, string reason);

        [LoggerMessage(EventId = 3003, Level = LogLevel.Error, Message = "Routing failed to handle an input; continuing")]
        public static partial void Failed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Announcing prefixes {Prefixes}")]
        public static partial void PrefixesAnnounced(ILogger logger, string prefixes);

        [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Cannot announce prefixes {Prefixes}: {Problem}; announcing none")]
        public static partial void PrefixesRefused(ILogger logger, string prefixes, string problem);
    }
}
