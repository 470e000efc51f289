using System.Runtime.CompilerServices;
using Router.Hosting;
using Router.Routing;
using Router.Sdk;
using Router.Security.Links;

namespace Router.Switching;

/// <summary>
/// The frame path. Each netmod's incoming frames come in one at a time (<see cref="IncomingFrames"/>,
/// on the netmod's receive thread when it can); for each frame:
/// <list type="number">
/// <item>only from an authenticated link (<see cref="LinkTable"/>): link-handshake frames go to
///   the <see cref="LinkGuard"/>, sealed control frames are verified and unsealed, anything
///   else from a link that has not authenticated is a counted drop;</item>
/// <item>parse the header from the buffer (no allocation); malformed → counted drop;</item>
/// <item>addressed to this router → by kind: messages to <see cref="LocalDelivery"/>, routing
///   frames to <see cref="RoutingService"/>, echo to <see cref="EchoService"/>;</item>
/// <item>otherwise decrement the hop limit in place, look up the next hop in the
///   <see cref="RouteTable"/> (lock-free snapshot) and hand the same buffer to that netmod;
///   no route, hop limit spent, or a send that fails → counted drop.</item>
/// </list>
/// The switch owns each frame from the moment it gets it and returns the buffer to the pool
/// when the frame is delivered, sent (netmods copy before completing a send) or dropped.
/// Nothing here throws for bad input.
/// </summary>
internal sealed class Switch
{
    private readonly RouterAddress _local;
    private readonly RouteTable _routes;
    private readonly LocalDelivery _delivery;
    private readonly RoutingService _routing;
    private readonly EchoService _echo;
    private readonly FloodFilter _floods;
    private readonly NetmodSet _netmods;
    private readonly uint _maxMessageLength;
    private readonly LinkTable _links;
    private readonly LinkGuard _guard;

    public Switch(RouterAddress local, RouteTable routes, LocalDelivery delivery, RoutingService routing, EchoService echo, FloodFilter floods, NetmodSet netmods, int maxMessageBytes, SwitchCounters counters, LinkTable links, LinkGuard guard)
    {
        _links = links;
        _guard = guard;
        _floods = floods;
        _netmods = netmods;
        _local = local;
        _routes = routes;
        _delivery = delivery;
        _routing = routing;
        _echo = echo;
        _maxMessageLength = (uint)maxMessageBytes;
        Counters = counters;
    }

    public SwitchCounters Counters { get; }

    /// <summary>Switches the frames of one netmod (<see cref="IncomingFrames"/>) until its channel completes or the token is cancelled.</summary>
    public Task RunAsync(NetmodInstance input, CancellationToken cancellationToken) =>
        IncomingFrames.ConsumeAsync(input.Netmod.Incoming, new InputHandler(this, input, cancellationToken), cancellationToken);

    /// <summary>Switches one frame and releases it. Completes synchronously unless the next hop applies backpressure.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask ProcessAsync(NetmodInstance input, InboundFrame frame, CancellationToken cancellationToken)
    {
        try
        {
            Counters.CountReceived();
            input.CountReceived(frame.From, frame.Length);
            var span = frame.Span;
            if (span.Length >= FrameHeader.Size && span[0] == FrameHeader.CurrentVersion && FrameHeader.IsSealedControl((FrameKind)span[1]))
            {
                // Routing's control frames carry a link seal: verify and strip it first.
                if (!_links.TryOpenControl(input, frame.From, span, out var unsealed))
                {
                    Drop(input, DropReason.LinkAuthentication);
                    return;
                }

                frame = new InboundFrame(frame.From, frame.Buffer, frame.Offset, unsealed, frame.MoreFollows);
            }
            else if (!_links.IsAuthenticated(input, frame.From) && !(span.Length > 1 && span[1] == (byte)FrameKind.LinkHandshake))
            {
                Drop(input, DropReason.LinkAuthentication);
                return;
            }

            var error = FrameHeader.TryRead(frame.Span, _maxMessageLength, out var header);
            if (error != FrameError.None)
            {
                Drop(input, error switch
                {
                    FrameError.UnknownVersion => DropReason.UnknownVersion,
                    FrameError.UnknownKind => DropReason.UnknownKind,
                    FrameError.MessageTooLarge => DropReason.MessageTooLarge,
                    _ => DropReason.Malformed,
                });
                return;
            }

            if (header.Kind == FrameKind.LinkHandshake)
            {
                if (header.Destination == _local || header.Destination.IsNone)
                {
                    _guard.PostHandshake(input, frame.From, header.Source, frame.Span[FrameHeader.Size..]);
                }
                else
                {
                    Drop(input, DropReason.HopLimitExceeded);
                }

                return;
            }

            if (header.Kind == FrameKind.Flood)
            {
                await FloodAsync(input, frame, header, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (header.Destination == _local)
            {
                Counters.CountDelivered();
                await DeliverLocallyAsync(input, frame, header, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (header.HopLimit <= 1 || FrameHeader.IsLinkLocal(header.Kind))
            {
                Drop(input, DropReason.HopLimitExceeded);
                if (header.Kind == FrameKind.EchoRequest)
                {
                    await _echo.HopLimitExceededAsync(header, frame.Memory[..FrameHeader.Size], cancellationToken).ConfigureAwait(false);
                }

                return;
            }

            frame.Span[FrameHeader.HopLimitOffset] = (byte)(header.HopLimit - 1);

            // Where multi-hop routing plugs in: the table answers for any destination it knows.
            if (!_routes.TryGetNextHop(header.Destination, out var next))
            {
                Drop(input, DropReason.NoRoute);
                return;
            }

            if (next.Netmod == input && next.Neighbour == frame.From)
            {
                Drop(input, DropReason.WouldReturnToSender);
                return;
            }

            if (frame.Length > next.Netmod.MaxFrameSize)
            {
                if (header.Kind != FrameKind.Message)
                {
                    Drop(next.Netmod, DropReason.NextHopTooSmall);
                    return;
                }

                await ForwardInSlicesAsync(next, frame, header, cancellationToken).ConfigureAwait(false);
                return;
            }

            var result = await next.Netmod.SendAsync(next.Neighbour, frame.Memory, cancellationToken).ConfigureAwait(false);
            CountSend(next.Netmod, result);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            frame.Release();
        }
    }

    /// <summary>
    /// A flooded slice: delivered here and passed to every neighbour on every netmod except the
    /// one it came from — once. Slices already seen (and this router's own, coming back) are
    /// dropped by the <see cref="FloodFilter"/>.
    /// </summary>
    private async ValueTask FloodAsync(NetmodInstance input, InboundFrame frame, FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.Source == _local || !_floods.TryAdd(header.Source, header.MessageId, header.Offset))
        {
            Drop(input, DropReason.DuplicateFlood);
            return;
        }

        Counters.CountDelivered();
        _delivery.Accept(header, frame.Span[FrameHeader.Size..]);
        if (header.HopLimit <= 1)
        {
            return;
        }

        frame.Span[FrameHeader.HopLimitOffset] = (byte)(header.HopLimit - 1);
        foreach (var netmod in _netmods.Running)
        {
            if (frame.Length > netmod.MaxFrameSize)
            {
                Drop(netmod, DropReason.NextHopTooSmall);
                continue;
            }

            await netmod.SendAllAsync(frame.Memory, netmod == input ? frame.From : null, cancellationToken).ConfigureAwait(false);
        }

        Counters.CountForwarded();
    }

    /// <summary>
    /// Cuts a message slice that is too long for the next hop's link into slices that fit
    /// (<see cref="FrameSlicer"/>), each with the same header and its own offset.
    /// </summary>
    private async ValueTask ForwardInSlicesAsync(NextHop next, InboundFrame frame, FrameHeader header, CancellationToken cancellationToken)
    {
        var result = await FrameSlicer.SendAsync(next.Netmod, next.Neighbour, frame.Memory, header.Offset, cancellationToken).ConfigureAwait(false);
        if (result != SendResult.Sent)
        {
            CountSend(next.Netmod, result);
            return;
        }

        Counters.CountForwarded();
        Counters.CountResliced();
    }

    /// <summary>Hands a frame addressed to this router to whoever handles its kind.</summary>
    private ValueTask DeliverLocallyAsync(NetmodInstance input, InboundFrame frame, in FrameHeader header, CancellationToken cancellationToken)
    {
        var payload = frame.Memory[FrameHeader.Size..];
        switch (header.Kind)
        {
            case FrameKind.Message or FrameKind.Packets:
                _delivery.Accept(header, payload.Span);
                return ValueTask.CompletedTask;
            case FrameKind.Hello or FrameKind.Update or FrameKind.SeqnoRequest:
                return _routing.PostAsync(input, frame.From, header, payload.Span, cancellationToken);
            case FrameKind.EchoRequest:
                return _echo.ReplyAsync(header, payload, cancellationToken);
            case FrameKind.SessionInit or FrameKind.SessionAccept:
                // End-to-end key exchange; the sessions live with local delivery, which uses them to open messages.
                return _delivery.Sessions.ReceiveHandshakeAsync(header, payload, cancellationToken);
            default:
                _echo.Complete(header, payload.Span);
                return ValueTask.CompletedTask;
        }
    }

    /// <summary>Counts a forwarded frame, or its drop against the netmod it was to leave through.</summary>
    private void CountSend(NetmodInstance output, SendResult result)
    {
        switch (result)
        {
            case SendResult.Sent:
                Counters.CountForwarded();
                break;
            case SendResult.NoSuchNeighbour:
                Drop(output, DropReason.NeighbourGone);
                break;
            case SendResult.TooLarge:
                Drop(output, DropReason.NextHopTooSmall);
                break;
            case SendResult.QueueFull:
                Drop(output, DropReason.QueueFull);
                break;
            default:
                Drop(output, DropReason.NetmodStopped);
                break;
        }
    }

    /// <summary>Counts a dropped frame for the router and for the netmod it is charged to.</summary>
    private void Drop(NetmodInstance netmod, DropReason reason)
    {
        Counters.CountDrop(reason);
        netmod.CountDrop(reason);
    }

    /// <summary>One netmod's frames into the switch.</summary>
    private sealed class InputHandler(Switch owner, NetmodInstance input, CancellationToken cancellationToken) : IFrameHandler
    {
        public ValueTask HandleAsync(InboundFrame frame) => owner.ProcessAsync(input, frame, cancellationToken);
    }
}
