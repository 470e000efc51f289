using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Hosting;
using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Router.Switching;

namespace Router.Security.Links;

/// <summary>
/// Authenticates every link before anything else may use it. When a netmod reports a
/// neighbour up, the guard checks the peer policy and runs the <see cref="LinkHandshake"/>
/// over link-handshake frames (resent every second, abandoned after
/// <see cref="SecurityOptions.HandshakeTimeout"/> and retried later with fresh keys). Only
/// then does routing hear of the neighbour, and only then does the switch accept its frames.
/// Handshakes run on the guard's own loop (they cost a signature and an ECDH); the frame
/// path only reads the <see cref="LinkTable"/> the guard writes.
/// </summary>
internal sealed partial class LinkGuard : IHostedService
{
    private static readonly TimeSpan ResendInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);
    private static readonly Input TickInput = new(null!, default, default, null, 0);

    private readonly Channel<Input> _inputs = Channel.CreateBounded<Input>(new BoundedChannelOptions(1024) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly RouterIdentity _identity;
    private readonly SecurityOptions _options;
    private readonly byte[] _networkKey;
    private readonly RoutingService _routing;
    private readonly LinkTable _links;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public LinkGuard(RouterIdentity identity, SecurityOptions options, LinkTable links, RoutingService routing, LinkSecurityCounters counters, TimeProvider time, ILogger<LinkGuard> logger)
    {
        _identity = identity;
        _options = options;
        _networkKey = LinkHandshake.NetworkKey(options.NetworkSecret);
        _links = links;
        _routing = routing;
        Counters = counters;
        _time = time;
        _logger = logger;
    }

    public LinkSecurityCounters Counters { get; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
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

    /// <summary>A netmod reported a neighbour up or down (from the netmod's neighbour-event loop).</summary>
    public ValueTask PostAsync(NetmodInstance netmod, NeighbourEvent e, CancellationToken cancellationToken) =>
        _inputs.Writer.WriteAsync(new Input(netmod, e, default, null, 0), cancellationToken);

    /// <summary>
    /// A link-handshake frame arrived (from the switch). The payload is copied; when the queue
    /// is full the frame is dropped (handshakes are resent).
    /// </summary>
    public void PostHandshake(NetmodInstance netmod, NeighbourId from, RouterAddress source, ReadOnlySpan<byte> payload)
    {
        var buffer = FrameBuffers.Rent(Math.Max(1, payload.Length));
        payload.CopyTo(buffer);
        var e = new NeighbourEvent(NeighbourEventKind.Up, from, source, string.Empty);
        if (!_inputs.Writer.TryWrite(new Input(netmod, e, source, buffer, payload.Length)))
        {
            FrameBuffers.Return(buffer);
            Counters.CountRateLimited();
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var reader = _inputs.Reader;
        // The timers run after every batch of inputs and at least every Tick: a one-shot timer
        // writes a tick input, so an idle loop wakes without a cancelled wait (an exception
        // each time).
        using var tick = _time.CreateTimer(static state => ((LinkGuard)state!)._inputs.Writer.TryWrite(TickInput), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                tick.Change(Tick, Timeout.InfiniteTimeSpan);
                if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return;
                }

                while (reader.TryRead(out var input))
                {
                    if (input.Netmod is null)
                    {
                        continue; // the tick
                    }

                    try
                    {
                        await HandleAsync(input, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Log.Failed(_logger, e);
                    }
                    finally
                    {
                        if (input.Buffer is not null)
                        {
                            FrameBuffers.Return(input.Buffer);
                        }
                    }
                }

                await RunTimersAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private TimeSpan Now => TimeSpan.FromTicks(_time.GetTimestamp() * TimeSpan.TicksPerSecond / _time.TimestampFrequency);

    private async Task HandleAsync(Input input, CancellationToken cancellationToken)
    {
        var key = (input.Netmod, input.Event.Neighbour);
        if (input.Buffer is not null)
        {
            await OnHandshakeAsync(key, input, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (input.Event.Kind == NeighbourEventKind.Down)
        {
            if (_links.TryRemove(key, out var gone))
            {
                gone.Dispose();
                if (gone.State == LinkState.Authenticated)
                {
                    await _routing.PostAsync(input.Netmod, input.Event with { Address = gone.Address }, cancellationToken).ConfigureAwait(false);
                }
            }

            return;
        }

        var address = input.Event.Address;
        if (address == _identity.Address)
        {
            Log.LinkToSelf(_logger, input.Netmod.Name, input.Event.RemoteEndpoint);
            return;
        }

        var link = new Link(input.Netmod, input.Event.Neighbour, address, input.Event.RemoteEndpoint, _options.ControlFramesPerSecond);
        if (_links.TryRemove(key, out var previous))
        {
            previous.Dispose();
        }

        _links.Set(key, link);
        if (!address.IsNone && !Allowed(link, address))
        {
            return;
        }

        await BeginAsync(link, cancellationToken).ConfigureAwait(false);
    }

    private bool Allowed(Link link, RouterAddress address)
    {
        if (_options.PolicyFor(link.Netmod.Name).Allows(address))
        {
            return true;
        }

        link.State = LinkState.Refused;
        Counters.CountRefused();
        Log.Refused(_logger, address.ToString(), link.Netmod.Name, link.Endpoint);
        return false;
    }

    private async Task BeginAsync(Link link, CancellationToken cancellationToken)
    {
        link.Handshake?.Dispose();
        link.Handshake = new LinkHandshake(_identity, link.Address, _networkKey);
        link.State = link.Session is null ? LinkState.Handshaking : LinkState.Authenticated;
        link.Deadline = Now + _options.HandshakeTimeout;
        await SendHandshakeAsync(link, cancellationToken).ConfigureAwait(false);
    }

    private async Task OnHandshakeAsync((NetmodInstance, NeighbourId) key, Input input, CancellationToken cancellationToken)
    {
        if (!_links.TryGetValue(key, out var link) || link.State == LinkState.Refused)
        {
            Counters.CountUnauthenticated();
            return;
        }

        if (!link.HandshakeBudget.TryTake(_time.GetTimestamp(), _time.TimestampFrequency))
        {
            Counters.CountRateLimited();
            return;
        }

        if (link.Handshake is null)
        {
            // The last attempt was abandoned; the peer is trying again: so do we.
            await BeginAsync(link, cancellationToken).ConfigureAwait(false);
        }

        var step = link.Handshake!.Receive(input.Buffer.AsSpan(0, input.Length), input.Source);
        if (step.PeerStartedOver)
        {
            // The neighbour started over: a new handshake, with a new ephemeral key of ours,
            // answers it. The session in force stays until the new keys are proven.
            link.Handshake.Dispose();
            link.Handshake = new LinkHandshake(_identity, link.Address, _networkKey);
            step = link.Handshake.Receive(input.Buffer.AsSpan(0, input.Length), input.Source);
        }

        if (step.Failure != HandshakeFailure.None)
        {
            Counters.CountFailure(step.Failure);
            Log.HandshakeRejected(_logger, input.Source.ToString(), link.Netmod.Name, link.Endpoint, Describe(step.Failure));
            return;
        }

        if (link.Address.IsNone && !Allowed(link, link.Handshake.Peer))
        {
            return;
        }

        link.Address = link.Handshake.Peer;
        if (step.SendOurs)
        {
            await SendHandshakeAsync(link, cancellationToken).ConfigureAwait(false);
        }

        if (step.Keys is null)
        {
            return;
        }

        var first = link.Session is null;
        link.Session = new LinkSession(step.Keys); // the old session, if any, is left to the GC: the switch may still be using it
        link.State = LinkState.Authenticated;
        Counters.CountCompleted();
        var up = new NeighbourEvent(NeighbourEventKind.Up, link.Id, link.Address, link.Endpoint);
        if (first)
        {
            Log.Authenticated(_logger, link.Address.ToString(), link.Netmod.Name, link.Endpoint);
            await _routing.PostAsync(link.Netmod, up, cancellationToken).ConfigureAwait(false);
            return;
        }

        // New keys on a link that had some: the neighbour started over (it restarted, or its
        // netmod saw the link go and come back while ours did not), so its routing state is new
        // too: hello counters from 0, no routes. Routing forgets it and meets it afresh, as if the
        // link had gone down and up, rather than judge its new hellos against the old ones.
        Counters.CountRenewed();
        Log.Renewed(_logger, link.Address.ToString(), link.Netmod.Name, link.Endpoint);
        await _routing.PostAsync(link.Netmod, up with { Kind = NeighbourEventKind.Down }, cancellationToken).ConfigureAwait(false);
        await _routing.PostAsync(link.Netmod, up, cancellationToken).ConfigureAwait(false);
    }

    private async Task RunTimersAsync(CancellationToken cancellationToken)
    {
        var now = Now;
        foreach (var link in _links.All)
        {
            switch (link.State)
            {
                case LinkState.Handshaking when now >= link.Deadline:
                    Counters.CountTimedOut();
                    Log.HandshakeTimedOut(_logger, link.Address.IsNone ? "(unknown)" : link.Address.ToString(), link.Netmod.Name, link.Endpoint, _options.HandshakeTimeout.TotalSeconds);
                    link.Handshake?.Dispose();
                    link.Handshake = null;
                    link.State = LinkState.Failed;
                    link.Retries++;
                    link.Deadline = now + TimeSpan.FromSeconds(Math.Min(60, 5 * link.Retries));
                    break;
                case LinkState.Handshaking when now >= link.NextResend:
                    await SendHandshakeAsync(link, cancellationToken).ConfigureAwait(false);
                    break;
                case LinkState.Failed when now >= link.Deadline:
                    await BeginAsync(link, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    private async Task SendHandshakeAsync(Link link, CancellationToken cancellationToken)
    {
        var length = FrameHeader.Size + LinkHandshakeMessage.Size;
        var buffer = FrameBuffers.Rent(length);
        try
        {
            new FrameHeader(FrameKind.LinkHandshake, 1, link.Address, _identity.Address, 0, LinkHandshakeMessage.Size, 0).Write(buffer);
            link.Handshake!.Write(buffer.AsSpan(FrameHeader.Size));
            link.NextResend = Now + ResendInterval;
            await link.Netmod.SendAsync(link.Id, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SendFailed(_logger, link.Netmod.Name, e.Message);
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }
    }

    private static string Describe(HandshakeFailure failure) => failure switch
    {
        HandshakeFailure.Malformed => "malformed handshake message",
        HandshakeFailure.IdentityMismatch => "its identity key does not belong to the address it claims",
        HandshakeFailure.BadEphemeral => "its ephemeral key is not a valid P-256 point",
        HandshakeFailure.BadConfirmation => "key confirmation failed: it uses a different network secret (Router:NetworkSecret), or the message was altered",
        HandshakeFailure.BadSignature => "its signature does not verify",
        _ => failure.ToString(),
    };

    private readonly record struct Input(NetmodInstance Netmod, NeighbourEvent Event, RouterAddress Source, byte[]? Buffer, int Length);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Link to {Address} via {Netmod} ({Endpoint}) authenticated")]
        public static partial void Authenticated(ILogger logger, string address, string netmod, string endpoint);

        [LoggerMessage(EventId = 4008, Level = LogLevel.Information, Message = "Link to {Address} via {Netmod} ({Endpoint}) authenticated again with new keys: the neighbour started over")]
        public static partial void Renewed(ILogger logger, string address, string netmod, string endpoint);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Link handshake from {Address} via {Netmod} ({Endpoint}) rejected: {Reason}")]
        public static partial void HandshakeRejected(ILogger logger, string address, string netmod, string endpoint, string reason);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Link handshake with {Address} via {Netmod} ({Endpoint}) abandoned after {Seconds} s; retrying later")]
        public static partial void HandshakeTimedOut(ILogger logger, string address, string netmod, string endpoint, double seconds);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "Neighbour {Address} via {Netmod} ({Endpoint}) refused: not in AllowedPeers and AcceptUnknownPeers is false")]
        public static partial void Refused(ILogger logger, string address, string netmod, string endpoint);

        [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Netmod '{Netmod}' reported a link to this router itself ({Endpoint}); ignored")]
        public static partial void LinkToSelf(ILogger logger, string netmod, string endpoint);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Warning, Message = "Sending a link handshake on netmod '{Netmod}' failed: {Reason}")]
        public static partial void SendFailed(ILogger logger, string netmod, string reason);

        [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "The link guard failed to handle an input; continuing")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
