using System.Buffers;
using Router.Routing;
using Router.Sdk;
using Router.Security.Sessions;

namespace Router.Switching;

/// <summary>The outcome of sending a message from this router.</summary>
internal enum OriginateResult
{
    Sent,
    NoRoute,
    TooLarge,
    LinkLost,

    /// <summary>No end-to-end session with the destination: it did not answer the key exchange within the handshake timeout.</summary>
    NoSession,
}

/// <summary>
/// Sends messages that start at this router (API <c>send</c>): seals the whole message for the
/// destination with the end-to-end session (<see cref="SessionService"/>, waiting for a key
/// exchange when there is none), cuts the sealed message into slices that fit the next hop's
/// frame size, each with a <see cref="FrameHeader"/>, and hands them to that netmod (<see cref="FrameSlicer"/>: one
/// run, or one by one), waiting when it applies backpressure. Floods are signed instead of sealed. A message
/// to this router's own address is delivered locally, unsealed, without touching a netmod.
/// Sealing uses pooled buffers: a message that fits one frame is sealed straight into the
/// frame, a larger one into a rented buffer that is then sliced.
/// </summary>
internal sealed class MessageSender
{
    private readonly RouterAddress _local;
    private readonly RouteTable _routes;
    private readonly LocalDelivery _delivery;
    private readonly SessionService _sessions;
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

        // One set of sessions per router: the one that opens what arrives also seals what leaves.
        _sessions = delivery.Sessions;
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
            var result = await next.Netmod.SendAsync(next.Neighbour, buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            return result == SendResult.Sent ? OriginateResult.Sent : OriginateResult.LinkLost;
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }
    }

    /// <summary>
    /// Sends a message to every router: signed (<see cref="FloodSignature"/>), sliced to fit the
    /// smallest frame of the running netmods, each slice sent to every neighbour and recorded in
    /// the flood filter so it is not taken back when it returns. Returns how many neighbours
    /// the first slice went to.
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

        var signedLength = message.Length + FloodSignature.Overhead;
        var signed = ArrayPool<byte>.Shared.Rent(signedLength);
        message.Span.CopyTo(signed);
        _sessions.SignFlood(messageId, message.Span, signed.AsSpan(message.Length, FloodSignature.Overhead));
        var frameSize = netmods.Min(n => n.MaxFrameSize);
        var buffer = FrameBuffers.Rent(Math.Min(frameSize, FrameHeader.Size + signedLength));
        var reached = 0;
        try
        {
            var offset = 0;
            do
            {
                var length = Math.Min(frameSize - FrameHeader.Size, signedLength - offset);
                new FrameHeader(FrameKind.Flood, _hopLimit, RouterAddress.None, _local, messageId, (uint)signedLength, (uint)offset).Write(buffer);
                signed.AsSpan(offset, length).CopyTo(buffer.AsSpan(FrameHeader.Size));
                _floods.TryAdd(_local, messageId, (uint)offset);
                var sent = 0;
                foreach (var netmod in netmods)
                {
                    sent += await netmod.SendAllAsync(buffer.AsMemory(0, FrameHeader.Size + length), null, cancellationToken).ConfigureAwait(false);
                }

                if (offset == 0)
                {
                    reached = sent;
                }

                offset += length;
            }
            while (offset < signedLength);
        }
        finally
        {
            FrameBuffers.Return(buffer);
            ArrayPool<byte>.Shared.Return(signed);
        }

        return (reached == 0 ? OriginateResult.NoRoute : OriginateResult.Sent, messageId, reached);
    }

    /// <summary>
    /// Sends a message to one router, sealed for it. Waits for an end-to-end session first
    /// (at most the handshake timeout; <see cref="OriginateResult.NoSession"/> when none could
    /// be made), then seals the whole message once and slices the sealed bytes.
    /// </summary>
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

        // No route, no key exchange: say so at once rather than after the handshake timeout.
        if (!_routes.TryGetNextHop(destination, out _))
        {
            return (OriginateResult.NoRoute, messageId);
        }

        var sealedLength = message.Length + SealedMessage.Overhead;

        // A session can reach its limit between being handed out and sealing (other sends use it
        // too); then ask again, which waits for the re-key under way.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var pending = _sessions.GetSendSessionAsync(destination, cancellationToken);
            var session = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
            if (session is null)
            {
                return (OriginateResult.NoSession, messageId);
            }

            if (!_routes.TryGetNextHop(destination, out var next))
            {
                return (OriginateResult.NoRoute, messageId);
            }

            if (FrameHeader.Size + sealedLength <= next.Netmod.MaxFrameSize)
            {
                var frameLength = FrameHeader.Size + sealedLength;
                var frame = FrameBuffers.Rent(frameLength);
                try
                {
                    if (!_sessions.TrySeal(session, messageId, message.Span, frame.AsSpan(FrameHeader.Size, sealedLength)))
                    {
                        continue;
                    }

                    new FrameHeader(FrameKind.Message, _hopLimit, destination, _local, messageId, (uint)sealedLength, 0).Write(frame);
                    var result = await next.Netmod.SendAsync(next.Neighbour, frame.AsMemory(0, frameLength), cancellationToken).ConfigureAwait(false);
                    return (result == SendResult.Sent ? OriginateResult.Sent : OriginateResult.LinkLost, messageId);
                }
                finally
                {
                    FrameBuffers.Return(frame);
                }
            }

            // Sealed behind a header with offset 0, then cut into slices that fit the next hop.
            var whole = ArrayPool<byte>.Shared.Rent(FrameHeader.Size + sealedLength);
            try
            {
                if (!_sessions.TrySeal(session, messageId, message.Span, whole.AsSpan(FrameHeader.Size, sealedLength)))
                {
                    continue;
                }

                new FrameHeader(FrameKind.Message, _hopLimit, destination, _local, messageId, (uint)sealedLength, 0).Write(whole);
                var result = await FrameSlicer.SendAsync(next.Netmod, next.Neighbour, whole.AsMemory(0, FrameHeader.Size + sealedLength), 0, cancellationToken).ConfigureAwait(false);
                return (result == SendResult.Sent ? OriginateResult.Sent : OriginateResult.LinkLost, messageId);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(whole);
            }
        }

        return (OriginateResult.NoSession, messageId);
    }
}
