using Router.Routing;
using Router.Sdk;

namespace Router.Switching;

/// <summary>The outcome of sending a message from this router.</summary>
internal enum OriginateResult
{
    Sent,
    NoRoute,
    TooLarge,
    LinkLost,
}

/// <summary>
/// Sends messages that start at this router (API <c>send</c>): cuts the message into slices
/// that fit the next hop's frame size, each with a <see cref="FrameHeader"/>, and hands them
/// to that netmod one by one, waiting when it applies backpressure. A message to this
/// router's own address is delivered locally without touching a netmod.
/// </summary>
internal sealed class MessageSender
{
    private readonly RouterAddress _local;
    private readonly RouteTable _routes;
    private readonly LocalDelivery _delivery;
    private readonly FloodFilter? _floods;
    private readonly Hosting.NetmodSet? _netmods;
    private readonly int _maxMessageBytes;
    private readonly byte _hopLimit;
    private int _nextMessageId = Random.Shared.Next();

    public MessageSender(RouterAddress local, RouteTable routes, LocalDelivery delivery, int maxMessageBytes, byte hopLimit, FloodFilter? floods = null, Hosting.NetmodSet? netmods = null)
    {
        _floods = floods;
        _netmods = netmods;
        _local = local;
        _routes = routes;
        _delivery = delivery;
        _maxMessageBytes = maxMessageBytes;
        _hopLimit = hopLimit;
    }

    public int MaxMessageBytes => _maxMessageBytes;

    public byte HopLimit => _hopLimit;

    public uint NextMessageId() => unchecked((uint)Interlocked.Increment(ref _nextMessageId));

    /// <summary>Sends a payload that fits in one frame (echo and notices) towards <paramref name="destination"/>.</summary>
    public async ValueTask<OriginateResult> SendFrameAsync(FrameKind kind, RouterAddress destination, uint messageId, ReadOnlyMemory<byte> payload, byte hopLimit, CancellationToken cancellationToken)
    {
        if (!_routes.TryGetNextHop(destination, out var next))
        {
            return OriginateResult.NoRoute;
        }

        var length = FrameHeader.Size + payload.Length;
        if (length > next.Netmod.MaxFrameSize)
        {
            return OriginateResult.TooLarge;
        }

        var buffer = FrameBuffers.Rent(length);
        try
        {
            new FrameHeader(kind, hopLimit, destination, _local, messageId, (uint)payload.Length, 0).Write(buffer);
            payload.Span.CopyTo(buffer.AsSpan(FrameHeader.Size));
            var result = await next.Netmod.Netmod.SendAsync(next.Neighbour, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            return result == SendResult.Sent ? OriginateResult.Sent : OriginateResult.LinkLost;
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }
    }

    /// <summary>
    /// Sends a message to every router: sliced to fit the smallest frame of the running netmods,
    /// each slice sent to every neighbour and recorded in the flood filter so it is not taken
    /// back when it returns. Returns how many neighbours the first slice went to.
    /// </summary>
    public async Task<(OriginateResult Result, uint MessageId, int Neighbours)> FloodAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var messageId = NextMessageId();
        if (message.Length > _maxMessageBytes)
        {
            return (OriginateResult.TooLarge, messageId, 0);
        }

        var netmods = _netmods?.Running ?? [];
        if (netmods.Length == 0 || _floods is null)
        {
            return (OriginateResult.NoRoute, messageId, 0);
        }

        var frameSize = netmods.Min(n => n.MaxFrameSize);
        var buffer = FrameBuffers.Rent(Math.Min(frameSize, FrameHeader.Size + message.Length));
        var reached = 0;
        try
        {
            var offset = 0;
            do
            {
                var length = Math.Min(frameSize - FrameHeader.Size, message.Length - offset);
                new FrameHeader(FrameKind.Flood, _hopLimit, RouterAddress.None, _local, messageId, (uint)message.Length, (uint)offset).Write(buffer);
                message.Span.Slice(offset, length).CopyTo(buffer.AsSpan(FrameHeader.Size));
                _floods.TryAdd(_local, messageId, (uint)offset);
                var sent = 0;
                foreach (var netmod in netmods)
                {
                    sent += await netmod.Netmod.SendAllAsync(buffer.AsMemory(0, FrameHeader.Size + length), null, cancellationToken).ConfigureAwait(false);
                }

                if (offset == 0)
                {
                    reached = sent;
                }

                offset += length;
            }
            while (offset < message.Length);
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }

        return (reached == 0 ? OriginateResult.NoRoute : OriginateResult.Sent, messageId, reached);
    }

    public async Task<(OriginateResult Result, uint MessageId)> SendAsync(RouterAddress destination, ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        var messageId = NextMessageId();
        if (message.Length > _maxMessageBytes)
        {
            return (OriginateResult.TooLarge, messageId);
        }

        if (destination == _local)
        {
            _delivery.Complete(_local, messageId, message.ToArray());
            return (OriginateResult.Sent, messageId);
        }

        if (!_routes.TryGetNextHop(destination, out var next))
        {
            return (OriginateResult.NoRoute, messageId);
        }

        var sliceCapacity = next.Netmod.MaxFrameSize - FrameHeader.Size;
        var buffer = FrameBuffers.Rent(Math.Min(next.Netmod.MaxFrameSize, FrameHeader.Size + message.Length));
        try
        {
            var offset = 0;
            do
            {
                var length = Math.Min(sliceCapacity, message.Length - offset);
                new FrameHeader(FrameKind.Message, _hopLimit, destination, _local, messageId, (uint)message.Length, (uint)offset)
                    .Write(buffer);
                message.Span.Slice(offset, length).CopyTo(buffer.AsSpan(FrameHeader.Size));
                var result = await next.Netmod.Netmod
                    .SendAsync(next.Neighbour, buffer.AsMemory(0, FrameHeader.Size + length), cancellationToken)
                    .ConfigureAwait(false);
                if (result != SendResult.Sent)
                {
                    return (OriginateResult.LinkLost, messageId);
                }

                offset += length;
            }
            while (offset < message.Length);
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }

        return (OriginateResult.Sent, messageId);
    }
}
