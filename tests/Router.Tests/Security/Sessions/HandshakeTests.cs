using Router.Identity;
using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Tests.Security.Sessions;

public sealed class HandshakeTests : IDisposable
{
    private readonly SessionHarness _mesh = new();

    private Party A => _mesh.A;

    private Party B => _mesh.B;

    public void Dispose() => _mesh.Dispose();

    /// <summary>Seals one message with <paramref name="from"/>'s current session to its peer and opens it there.</summary>
    private static async Task<OpenResult> RoundTripAsync(Party from, byte[] message)
    {
        var session = await from.Sessions.GetSendSessionAsync(from.Peer!.Address, CancellationToken.None);
        Assert.NotNull(session);
        var sealedMessage = new byte[message.Length + SealedMessage.Overhead];
        Assert.True(from.Sessions.TrySeal(session, 9, message, sealedMessage));
        var result = from.Peer.Sessions.TryOpen(from.MessageHeader(9, sealedMessage.Length), sealedMessage, out var opened);
        if (result == OpenResult.Opened)
        {
            Assert.Equal(message, opened);
        }

        return result;
    }

    [Fact]
    public async Task GetSendSession_NoSessionYet_RunsTheExchangeAndBothSidesCanSend()
    {
        var session = await _mesh.EstablishAsync();

        Assert.True(session.IsInitiator);
        Assert.Equal(B.Address, session.Peer);
        Assert.Equal([FrameKind.SessionInit], A.Sent.Select(s => s.Kind));
        Assert.Equal([FrameKind.SessionAccept], B.Sent.Select(s => s.Kind));
        Assert.Equal((1, 1), (A.Counters.HandshakesCompleted, B.Counters.HandshakesAccepted));

        Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, "to B"u8.ToArray()));

        // B's side is confirmed by the message that just opened, so B sends on it: no second exchange.
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(B, "to A"u8.ToArray()));
        Assert.DoesNotContain(B.Sent, s => s.Kind == FrameKind.SessionInit);
        Assert.Equal(1, A.Sessions.Count);
        Assert.Equal(1, B.Sessions.Count);
    }

    [Fact]
    public async Task GetSendSession_ResponderBeforeAnyMessage_StartsItsOwnExchange()
    {
        await _mesh.EstablishAsync();

        // B has A's session but no proof A holds the keys (no message yet): B makes its own.
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(B, "first"u8.ToArray()));
        Assert.Single(B.Sent, s => s.Kind == FrameKind.SessionInit);
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, "second"u8.ToArray()));
    }

    [Fact]
    public async Task GetSendSession_BothInitiateAtOnce_BothSessionsCompleteAndCarryMessages()
    {
        A.Hold = true;
        B.Hold = true;
        var fromA = A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None).AsTask();
        var fromB = B.Sessions.GetSendSessionAsync(A.Address, CancellationToken.None).AsTask();
        Assert.False(fromA.IsCompleted);
        Assert.False(fromB.IsCompleted);

        // Each Init reaches the other side while its own exchange is under way.
        await A.ReleaseAsync();
        await B.ReleaseAsync();
        var (sessionA, sessionB) = (await fromA, await fromB);

        Assert.NotNull(sessionA);
        Assert.NotNull(sessionB);
        Assert.NotEqual(sessionA.LocalId, sessionB.RemoteId); // two different sessions
        Assert.Equal(2, A.Sessions.Count);
        Assert.Equal(2, B.Sessions.Count);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, [(byte)i]));
            Assert.Equal(OpenResult.Opened, await RoundTripAsync(B, [(byte)i]));
        }

        Assert.Equal(0, A.Counters.UnknownSession + B.Counters.UnknownSession);
    }

    [Fact]
    public async Task GetSendSession_AcceptLost_InitIsRetransmittedAndTheSameAcceptComesBack()
    {
        // Room for a few retransmissions (every 100 ms) after the 250 ms an Accept is not repeated for.
        using var mesh = new SessionHarness(new SessionOptions { HandshakeTimeout = TimeSpan.FromSeconds(3), RetransmitInterval = TimeSpan.FromMilliseconds(100) });
        var (a, b) = (mesh.A, mesh.B);
        var dropped = 0;
        b.Tamper = (kind, _) => kind != FrameKind.SessionAccept || dropped++ > 0;

        var session = await mesh.EstablishAsync();

        Assert.True(a.Counters.InitRetransmits >= 1);
        Assert.Equal(1, b.Counters.AcceptsResent);
        Assert.Equal(1, b.Sessions.Count); // the retransmitted Init did not make a second session
        var accepts = b.Sent.Where(s => s.Kind == FrameKind.SessionAccept).Select(s => s.Payload).ToList();
        Assert.Equal(2, accepts.Count);
        Assert.Equal(accepts[0], accepts[1]);
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(a, [1, 2, 3]));
        Assert.Equal(session.LocalId, (await a.Sessions.GetSendSessionAsync(b.Address, CancellationToken.None))!.LocalId);
    }

    [Fact]
    public async Task GetSendSession_NoAnswer_GivesUpAfterTheHandshakeTimeout()
    {
        A.Tamper = (_, _) => false;
        var started = DateTime.UtcNow;

        var session = await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None);

        Assert.Null(session);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(450), TimeSpan.FromSeconds(5));
        Assert.Equal(1, A.Counters.HandshakesTimedOut);
        Assert.Equal(1, A.Counters.SendsWithoutSession);
        Assert.True(A.Sent.Count >= 3, $"{A.Sent.Count} Inits sent in 500 ms at a 100 ms retransmit interval");
        Assert.Equal(0, A.Sessions.PendingHandshakes);
    }

    // Init: version, flags, reserved, initiator id, lost id, timestamp, ephemeral key, identity key, signature.
    [Theory]
    [InlineData(0, nameof(SessionDrop.MalformedHandshake))]
    [InlineData(1, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(2, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(5, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(9, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(19, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(40, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(120, nameof(SessionDrop.WrongIdentityKey))]
    [InlineData(200, nameof(SessionDrop.BadHandshakeSignature))]
    public async Task ReceiveInit_AnyFieldAltered_IsDroppedAndCounted(int offset, string expected)
    {
        var reason = Enum.Parse<SessionDrop>(expected);
        A.Tamper = (kind, payload) =>
        {
            payload[offset] ^= 0x01;
            return true;
        };

        Assert.Null(await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None));

        Assert.True(B.Counters.Drops(reason) >= 1, $"expected {reason}; B counted {string.Join(", ", B.Counters.Snapshot().Where(kv => kv.Value > 0))}");
        Assert.Equal(0, B.Counters.HandshakesAccepted);
        Assert.Equal(0, B.Sessions.Count);
        Assert.Empty(B.Sent);
    }

    // Accept: version, flags, initiator id, responder id, ephemeral key, identity key, signature.
    [Theory]
    [InlineData(0, nameof(SessionDrop.MalformedHandshake))]
    [InlineData(1, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(6, nameof(SessionDrop.UnexpectedAccept))]
    [InlineData(10, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(50, nameof(SessionDrop.BadHandshakeSignature))]
    [InlineData(150, nameof(SessionDrop.WrongIdentityKey))]
    [InlineData(200, nameof(SessionDrop.BadHandshakeSignature))]
    public async Task ReceiveAccept_AnyFieldAltered_IsDroppedAndCounted(int offset, string expected)
    {
        var reason = Enum.Parse<SessionDrop>(expected);
        B.Tamper = (kind, payload) =>
        {
            payload[offset] ^= 0x01;
            return true;
        };

        Assert.Null(await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None));

        Assert.True(A.Counters.Drops(reason) >= 1, $"expected {reason}; A counted {string.Join(", ", A.Counters.Snapshot().Where(kv => kv.Value > 0))}");
        Assert.Equal(0, A.Counters.HandshakesCompleted);
        Assert.Equal(0, A.Sessions.Count);
    }

    [Fact]
    public async Task ReceiveInit_IdentityKeyOfAnotherRouter_IsRejected()
    {
        // M relays A's genuine Init but claims to be its source: the key does not hash to M.
        A.Tamper = (_, _) => false;
        Assert.Null(await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None));
        var init = A.Sent[0].Payload;
        using var mallory = RouterIdentity.Create();

        await A.DeliverToPeerAsync(FrameKind.SessionInit, init, from: mallory.Address);

        Assert.Equal(1, B.Counters.Drops(SessionDrop.WrongIdentityKey));
        Assert.Equal(0, B.Sessions.Count);
    }

    [Fact]
    public async Task ReceiveInit_SignedByAnotherKeyThanTheOneItCarries_IsRejected()
    {
        // M puts A's public key (which hashes to A) in an Init it signs itself.
        using var mallory = RouterIdentity.Create();
        var forged = new byte[HandshakeMessages.InitLength];
        using var ephemeral = System.Security.Cryptography.ECDiffieHellman.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        HandshakeMessages.WriteInit(forged, mallory, B.Address, 42, 0, (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000, HandshakeMessages.ExportEphemeralKey(ephemeral));
        A.Identity.PublicKey.CopyTo(forged, 85);

        await A.DeliverToPeerAsync(FrameKind.SessionInit, forged);

        Assert.Equal(1, B.Counters.Drops(SessionDrop.BadHandshakeSignature));
        Assert.Equal(0, B.Sessions.Count);
    }

    [Fact]
    public async Task ReceiveAccept_FromAnotherRouterThanAsked_IsRejected()
    {
        B.Hold = true;
        var pending = A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None).AsTask();
        var init = A.Sent[0].Payload;

        // C answers A's Init to B with an Accept it signs itself: as C, and pretending to be B.
        using var c = RouterIdentity.Create();
        using var ephemeral = System.Security.Cryptography.ECDiffieHellman.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var accept = new byte[HandshakeMessages.AcceptLength];
        HandshakeMessages.WriteAccept(accept, c, A.Address, init, 77, HandshakeMessages.ExportEphemeralKey(ephemeral));
        await B.DeliverToPeerAsync(FrameKind.SessionAccept, accept, from: c.Address);
        await B.DeliverToPeerAsync(FrameKind.SessionAccept, accept, from: B.Address);

        Assert.Equal(1, A.Counters.Drops(SessionDrop.UnexpectedAccept));
        Assert.Equal(1, A.Counters.Drops(SessionDrop.WrongIdentityKey));
        Assert.False(pending.IsCompleted);

        // B's real Accept still completes the exchange.
        await B.ReleaseAsync();
        Assert.Equal(B.Address, (await pending)!.Peer);
    }

    [Fact]
    public async Task ReceiveInit_Replayed_GetsNoNewSessionAndNoAnswer()
    {
        await _mesh.EstablishAsync();
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, [1])); // confirms B's side
        var init = A.Sent[0].Payload;

        for (var i = 0; i < 100; i++)
        {
            await A.DeliverToPeerAsync(FrameKind.SessionInit, init);
        }

        Assert.Equal(100, B.Counters.Drops(SessionDrop.ReplayedInit));
        Assert.Equal(1, B.Sessions.Count);
        Assert.Single(B.Sent);
    }

    [Fact]
    public async Task ReceiveInit_ReplayedBeforeAnyMessage_OnlyRepeatsTheAcceptAtARateLimit()
    {
        await _mesh.EstablishAsync();
        var init = A.Sent[0].Payload;

        for (var i = 0; i < 100; i++)
        {
            await A.DeliverToPeerAsync(FrameKind.SessionInit, init);
        }

        // The cached Accept again, at most once per 250 ms; nothing an eavesdropper did not see.
        Assert.Equal(1, B.Sessions.Count);
        Assert.InRange(B.Sent.Count, 1, 2);
        Assert.True(B.Counters.Drops(SessionDrop.ReplayedInit) >= 99);
    }

    [Fact]
    public async Task ReceiveInit_FromManyRouters_KeepsUnconfirmedSessionsWithinTheLimit()
    {
        var options = new SessionOptions { MaxPendingHandshakes = 16, InitsPerSecond = 100_000 };
        using var harness = new SessionHarness(options);
        var initiators = Enumerable.Range(0, 60).Select(_ => new Party(options, TimeProvider.System) { Peer = harness.B, Hold = true }).ToList();
        try
        {
            foreach (var initiator in initiators)
            {
                _ = initiator.Sessions.GetSendSessionAsync(harness.B.Address, CancellationToken.None);
                await initiator.DeliverToPeerAsync(FrameKind.SessionInit, initiator.Sent[0].Payload);
            }

            Assert.Equal(60, harness.B.Counters.HandshakesAccepted);
            Assert.Equal(16, harness.B.Sessions.Unconfirmed);
            Assert.Equal(16, harness.B.Sessions.Count);
            Assert.Equal(44, harness.B.Counters.SessionsEvicted);
        }
        finally
        {
            initiators.ForEach(i => i.Dispose());
        }
    }

    [Fact]
    public async Task ReceiveInit_OverTheRate_IsDroppedBeforeAnySignatureCheck()
    {
        var options = new SessionOptions { InitsPerSecond = 5 };
        using var harness = new SessionHarness(options);
        var initiators = Enumerable.Range(0, 20).Select(_ => new Party(options, TimeProvider.System) { Peer = harness.B, Hold = true }).ToList();
        try
        {
            foreach (var initiator in initiators)
            {
                _ = initiator.Sessions.GetSendSessionAsync(harness.B.Address, CancellationToken.None);
                await initiator.DeliverToPeerAsync(FrameKind.SessionInit, initiator.Sent[0].Payload);
            }

            Assert.InRange(harness.B.Counters.HandshakesAccepted, 5, 7);
            Assert.Equal(20 - harness.B.Counters.HandshakesAccepted, harness.B.Counters.Drops(SessionDrop.InitRateLimited));
        }
        finally
        {
            initiators.ForEach(i => i.Dispose());
        }
    }

    [Fact]
    public async Task Sessions_WithOnePeer_AreBoundedPerPeer()
    {
        // Every message re-keys; the peer's old sessions beyond the per-peer limit are dropped.
        var options = new SessionOptions { RekeyAfterMessages = 1, SessionsPerPeer = 4 };
        using var harness = new SessionHarness(options);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(OpenResult.Opened, await RoundTripAsync(harness.A, [(byte)i]));
        }

        Assert.True(harness.A.Counters.Rekeys >= 10);
        Assert.InRange(harness.A.Sessions.SessionsWith(harness.B.Address), 1, 4);
        Assert.InRange(harness.B.Sessions.SessionsWith(harness.A.Address), 1, 4);
    }

    [Fact]
    public async Task TryOpen_AfterThePeerRestarted_ThePeerIsToldAndMakesANewSession()
    {
        await _mesh.EstablishAsync();
        Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, [1]));

        // B restarts: same identity, no sessions.
        var restarted = new Party(A.Sessions.Options, TimeProvider.System, RouterIdentity.FromPem(B.Identity.ExportPem())) { Peer = A };
        A.Peer = restarted;
        try
        {
            Assert.Equal(OpenResult.UnknownSession, await RoundTripAsync(A, [2]));

            // The restarted router told A (in a signed Init) which session it lost; A dropped it
            // and makes a new one for the next message.
            Assert.Equal(1, A.Counters.SessionsResetByPeer);
            Assert.Equal(OpenResult.Opened, await RoundTripAsync(A, [3]));
        }
        finally
        {
            restarted.Dispose();
        }
    }
}
