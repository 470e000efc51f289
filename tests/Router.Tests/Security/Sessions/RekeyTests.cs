using Router.Security.Sessions;

namespace Router.Tests.Security.Sessions;

public sealed class RekeyTests
{
    /// <summary>
    /// Messages from both sides, opened after later ones were sealed and out of order, as a mesh
    /// delivers them; a new session every three messages.
    /// </summary>
    [Fact]
    public async Task Rekey_EveryFewMessages_BothWays_NothingIsLost()
    {
        using var mesh = new SessionHarness(new SessionOptions { RekeyAfterMessages = 3, HandshakeTimeout = TimeSpan.FromSeconds(2) });
        var random = new Random(7);
        var inFlight = new List<(Party To, byte[] Sealed, uint Id, byte[] Message, Party From)>();
        var opened = 0;

        async Task SendAsync(Party from, uint id)
        {
            var message = new byte[random.Next(0, 200)];
            random.NextBytes(message);
            var session = await from.Sessions.GetSendSessionAsync(from.Peer!.Address, CancellationToken.None);
            Assert.NotNull(session);
            var sealedMessage = new byte[message.Length + SealedMessage.Overhead];
            Assert.True(from.Sessions.TrySeal(session, id, message, sealedMessage));
            inFlight.Add((from.Peer, sealedMessage, id, message, from));
        }

        // Up to eight messages at a time are in flight and arrive in any order among themselves:
        // sessions come and go faster than they ever would (a re-key every three messages), but
        // no message waits for more re-keys than the sessions a router keeps per peer.
        void DeliverAll()
        {
            foreach (var (to, sealedMessage, id, message, from) in inFlight.OrderBy(_ => random.Next()))
            {
                Assert.Equal(OpenResult.Opened, to.Sessions.TryOpen(from.MessageHeader(id, sealedMessage.Length), sealedMessage, out var plaintext));
                Assert.Equal(message, plaintext);
                opened++;
            }

            inFlight.Clear();
        }

        for (uint i = 0; i < 600; i++)
        {
            await SendAsync(i % 3 == 0 ? mesh.B : mesh.A, i);
            if (inFlight.Count == 8)
            {
                DeliverAll();
            }
        }

        DeliverAll();
        Assert.Equal(600, opened);
        Assert.True(mesh.A.Counters.Rekeys + mesh.B.Counters.Rekeys >= 100, $"{mesh.A.Counters.Rekeys} + {mesh.B.Counters.Rekeys} re-keys");
        Assert.Equal(0, mesh.A.Counters.HandshakesTimedOut + mesh.B.Counters.HandshakesTimedOut);
        Assert.InRange(mesh.A.Sessions.Count, 1, mesh.A.Sessions.Options.SessionsPerPeer);
        Assert.InRange(mesh.B.Sessions.Count, 1, mesh.B.Sessions.Options.SessionsPerPeer);
    }

    [Fact]
    public async Task Rekey_AfterTheAgeLimit_StartsANewSessionAndTheOldOneStillOpensInItsGrace()
    {
        var time = new Router.Sdk.Testing.ManualTimeProvider();
        var options = new SessionOptions { RekeyAfter = TimeSpan.FromSeconds(120), HandshakeTimeout = TimeSpan.FromSeconds(5), ReceiveGrace = TimeSpan.FromSeconds(30) };
        using var mesh = new SessionHarness(options, time);
        var first = await mesh.EstablishAsync();
        var old = new byte[SealedMessage.Overhead + 1];
        Assert.True(mesh.A.Sessions.TrySeal(first, 1, [1], old));

        time.Advance(TimeSpan.FromSeconds(121));
        var again = await mesh.A.Sessions.GetSendSessionAsync(mesh.B.Address, CancellationToken.None);
        var next = await mesh.A.Sessions.GetSendSessionAsync(mesh.B.Address, CancellationToken.None);

        Assert.Same(first, again); // the re-key started; the old session carried this message
        Assert.NotSame(first, next);
        Assert.Equal(1, mesh.A.Counters.Rekeys);

        // A message on the new session makes it B's current one; the old one opens for the grace period, then goes.
        var fresh = new byte[SealedMessage.Overhead + 1];
        Assert.True(mesh.A.Sessions.TrySeal(next!, 2, [2], fresh));
        Assert.Equal(OpenResult.Opened, mesh.B.Sessions.TryOpen(mesh.A.MessageHeader(2, fresh.Length), fresh, out _));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(OpenResult.Opened, mesh.B.Sessions.TryOpen(mesh.A.MessageHeader(1, old.Length), old, out _));
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(1, mesh.B.Sessions.Count);
        Assert.True(mesh.B.Counters.SessionsExpired >= 1);
    }

    [Fact]
    public async Task Send_PastTheHardLimit_WaitsForTheNewSession()
    {
        using var mesh = new SessionHarness(new SessionOptions { RekeyAfterMessages = 2 });
        var first = await mesh.EstablishAsync();

        // Hold B's answers: the re-key cannot finish, so after 2 × 2 messages the session is spent.
        mesh.B.Hold = true;
        var sealedMessage = new byte[SealedMessage.Overhead];
        for (var i = 0; i < 4; i++)
        {
            var session = await mesh.A.Sessions.GetSendSessionAsync(mesh.B.Address, CancellationToken.None);
            Assert.Same(first, session);
            Assert.True(mesh.A.Sessions.TrySeal(session!, (uint)i, [], sealedMessage));
        }

        Assert.False(mesh.A.Sessions.TrySeal(first, 9, [], sealedMessage));
        var waiting = mesh.A.Sessions.GetSendSessionAsync(mesh.B.Address, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        await mesh.B.ReleaseAsync();
        Assert.NotSame(first, await waiting);
    }
}
