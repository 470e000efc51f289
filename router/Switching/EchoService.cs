using System.Buffers.Binary;
using System.Collections.Concurrent;
using Router.Sdk;

namespace Router.Switching;

/// <summary>How an echo request ended.</summary>
internal enum EchoOutcome
{
    /// <summary>The destination answered.</summary>
    Reply,

    /// <summary>The request ran out of hops at <see cref="EchoResult.Responder"/> (traceroute).</summary>
    HopLimitExceeded,

    /// <summary>No answer in time.</summary>
    Timeout,

    /// <summary>This router has no route to the destination.</summary>
    NoRoute,
}

internal readonly record struct EchoResult(EchoOutcome Outcome, RouterAddress Responder, TimeSpan RoundTrip);

/// <summary>
/// Mesh-level echo, for <c>router ping</c> and <c>router traceroute</c>: answers echo requests
/// addressed to this router, tells the source when one of its echo requests runs out of hops
/// here, and matches the answers to requests this router sent. Only echo requests get a
/// hop-limit notice, so the mechanism cannot be used to make a router answer data frames.
/// </summary>
internal sealed class EchoService
{
    private readonly RouterAddress _self;
    private readonly MessageSender _sender;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<uint, Pending> _pending = new();

    public EchoService(RouterAddress self, MessageSender sender, TimeProvider time)
    {
        _self = self;
        _sender = sender;
        _time = time;
    }

    public async Task<EchoResult> PingAsync(RouterAddress destination, byte hopLimit, int size, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (destination == _self)
        {
            return new EchoResult(EchoOutcome.Reply, _self, _time.GetElapsedTime(started));
        }

        var id = _sender.NextMessageId();
        var pending = new Pending(started);
        _pending[id] = pending;
        try
        {
            var payload = new byte[Math.Max(8, size)];
            BinaryPrimitives.WriteInt64BigEndian(payload, started);
            var sent = await _sender.SendFrameAsync(FrameKind.EchoRequest, destination, id, payload, hopLimit, cancellationToken).ConfigureAwait(false);
            if (sent == OriginateResult.NoRoute)
            {
                return new EchoResult(EchoOutcome.NoRoute, RouterAddress.None, TimeSpan.Zero);
            }

            try
            {
                return await pending.Result.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return new EchoResult(EchoOutcome.Timeout, RouterAddress.None, timeout);
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Answers an echo request addressed to this router.</summary>
    public async ValueTask ReplyAsync(FrameHeader request, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        await _sender.SendFrameAsync(FrameKind.EchoReply, request.Source, request.MessageId, payload, _sender.HopLimit, cancellationToken).ConfigureAwait(false);

    /// <summary>Tells the source of an echo request that it ran out of hops here; the notice carries the request's header.</summary>
    public async ValueTask HopLimitExceededAsync(FrameHeader request, ReadOnlyMemory<byte> requestHeader, CancellationToken cancellationToken) =>
        await _sender.SendFrameAsync(FrameKind.HopLimitExceeded, request.Source, request.MessageId, requestHeader, _sender.HopLimit, cancellationToken).ConfigureAwait(false);

    /// <summary>Matches an echo reply or hop-limit notice addressed to this router with the request it answers.</summary>
    public void Complete(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        var outcome = header.Kind == FrameKind.EchoReply ? EchoOutcome.Reply : EchoOutcome.HopLimitExceeded;
        var id = header.MessageId;
        if (outcome == EchoOutcome.HopLimitExceeded)
        {
            // The notice carries the header of an echo request this router sent.
            if (payload.Length < FrameHeader.Size || (FrameKind)payload[1] != FrameKind.EchoRequest
                || RouterAddress.Read(payload.Slice(36, RouterAddress.Length)) != _self)
            {
                return;
            }

            id = BinaryPrimitives.ReadUInt32BigEndian(payload[68..]);
        }

        if (_pending.TryGetValue(id, out var pending))
        {
            pending.Result.TrySetResult(new EchoResult(outcome, header.Source, _time.GetElapsedTime(pending.Started)));
        }
    }

    private sealed class Pending(long started)
    {
        public long Started { get; } = started;

        public TaskCompletionSource<EchoResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
