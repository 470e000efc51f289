using Microsoft.Extensions.Logging.Abstractions;
using Router.Identity;
using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Tests.Security.Sessions;

/// <summary>
/// Two routers' <see cref="SessionService"/>s joined directly: a handshake frame one sends is
/// handed to the other at once (on the sender's thread), unless the test holds, drops or
/// alters it on the way.
/// </summary>
internal sealed class SessionHarness : IDisposable
{
    public SessionHarness(SessionOptions? options = null, TimeProvider? time = null)
    {
        options ??= new SessionOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(500), RetransmitInterval = TimeSpan.FromMilliseconds(100) };
        time ??= TimeProvider.System;
        A = new Party(options, time);
        B = new Party(options, time);
        A.Peer = B;
        B.Peer = A;
    }

    public Party A { get; }

    public Party B { get; }

    /// <summary>Makes a session from A to B and returns A's side of it.</summary>
    public async Task<Session> EstablishAsync()
    {
        var session = await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None);
        Assert.NotNull(session);
        return session;
    }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}

/// <summary>One side of a <see cref="SessionHarness"/>.</summary>
internal sealed class Party : IDisposable
{
    private readonly List<(FrameKind Kind, RouterAddress To, byte[] Payload)> _held = [];

    public Party(SessionOptions options, TimeProvider time, RouterIdentity? identity = null)
    {
        Identity = identity ?? RouterIdentity.Create();
        Sessions = new SessionService(Identity, options, Counters, time, NullLogger<SessionService>.Instance, TransportAsync);
    }

    public RouterIdentity Identity { get; }

    public RouterAddress Address => Identity.Address;

    public SessionCounters Counters { get; } = new();

    public SessionService Sessions { get; }

    public Party? Peer { get; set; }

    /// <summary>Every handshake frame sent, as sent (before <see cref="Tamper"/>); lock it to read while timers run.</summary>
    public List<(FrameKind Kind, byte[] Payload)> Sent { get; } = [];

    /// <summary>Changes an outgoing handshake payload in place; returning false drops it.</summary>
    public Func<FrameKind, byte[], bool>? Tamper { get; set; }

    /// <summary>While set, outgoing handshake frames wait in a queue until <see cref="ReleaseAsync"/>.</summary>
    public bool Hold { get; set; }

    /// <summary>The frame header a message from this party to its peer arrives with.</summary>
    public FrameHeader MessageHeader(uint messageId, int sealedLength, FrameKind kind = FrameKind.Message) =>
        new(kind, 64, Peer!.Address, Address, messageId, (uint)sealedLength, 0);

    /// <summary>Hands a handshake payload to the peer as if it came over the mesh from <paramref name="from"/>.</summary>
    public ValueTask DeliverToPeerAsync(FrameKind kind, byte[] payload, RouterAddress? from = null) =>
        Peer!.Sessions.ReceiveHandshakeAsync(new FrameHeader(kind, 64, Peer.Address, from ?? Address, 0, (uint)payload.Length, 0), payload, CancellationToken.None);

    /// <summary>Sends the held frames and stops holding.</summary>
    public async Task ReleaseAsync()
    {
        List<(FrameKind Kind, RouterAddress To, byte[] Payload)> held;
        lock (_held)
        {
            Hold = false;
            held = [.. _held];
            _held.Clear();
        }

        foreach (var (kind, _, payload) in held)
        {
            await DeliverToPeerAsync(kind, payload);
        }
    }

    private async ValueTask<OriginateResult> TransportAsync(FrameKind kind, RouterAddress to, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var bytes = payload.ToArray();
        lock (Sent)
        {
            Sent.Add((kind, bytes.ToArray()));
        }

        if (Peer is null || to != Peer.Address || (Tamper is { } tamper && !tamper(kind, bytes)))
        {
            return OriginateResult.Sent;
        }

        // Retransmissions come from timer threads.
        lock (_held)
        {
            if (Hold)
            {
                _held.Add((kind, to, bytes));
                return OriginateResult.Sent;
            }
        }

        await DeliverToPeerAsync(kind, bytes);
        return OriginateResult.Sent;
    }

    public void Dispose()
    {
        Sessions.Dispose();
        Identity.Dispose();
    }
}
