using Router.Identity;
using Router.Sdk;
using Router.Security.Links;

namespace Router.Tests.Security.Links;

/// <summary>The link handshake between two in-memory sides: success, tampering, wrong secrets, restarts.</summary>
public sealed class LinkHandshakeTests : IDisposable
{
    private readonly RouterIdentity _a = RouterIdentity.Create();
    private readonly RouterIdentity _b = RouterIdentity.Create();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void BothSidesStartAtOnce_EachAuthenticatesTheOther_WithMatchingKeys()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var (keysA, keysB) = Run(a, b);

        Assert.Equal(keysA.SendKey, keysB.ReceiveKey);
        Assert.Equal(keysA.ReceiveKey, keysB.SendKey);
        Assert.NotEqual(keysA.SendKey, keysA.ReceiveKey);
    }

    [Fact]
    public void EveryHandshake_DerivesFreshKeys()
    {
        using var a1 = new LinkHandshake(_a, _b.Address, []);
        using var b1 = new LinkHandshake(_b, _a.Address, []);
        using var a2 = new LinkHandshake(_a, _b.Address, []);
        using var b2 = new LinkHandshake(_b, _a.Address, []);
        Assert.NotEqual(Run(a1, b1).A.SendKey, Run(a2, b2).A.SendKey);
    }

    [Fact]
    public void NetmodWithoutAddresses_PeerAddressIsLearnedFromTheProof()
    {
        using var a = new LinkHandshake(_a, RouterAddress.None, []);
        using var b = new LinkHandshake(_b, RouterAddress.None, []);
        Run(a, b);
        Assert.Equal(_b.Address, a.Peer);
        Assert.Equal(_a.Address, b.Peer);
    }

    [Fact]
    public void DifferentNetworkSecrets_FailKeyConfirmation()
    {
        using var a = new LinkHandshake(_a, _b.Address, LinkHandshake.NetworkKey("secret number one, long enough"));
        using var b = new LinkHandshake(_b, _a.Address, LinkHandshake.NetworkKey("secret number two, long enough"));
        var first = Message(a);
        var answer = b.Receive(first, _a.Address);
        Assert.True(answer.SendOurs);
        var step = a.Receive(Message(b), _b.Address);
        Assert.Equal(HandshakeFailure.BadConfirmation, step.Failure);
        Assert.Null(step.Keys);
    }

    [Fact]
    public void SameNetworkSecret_Authenticates()
    {
        using var a = new LinkHandshake(_a, _b.Address, LinkHandshake.NetworkKey("the same secret for both routers"));
        using var b = new LinkHandshake(_b, _a.Address, LinkHandshake.NetworkKey("the same secret for both routers"));
        Run(a, b);
    }

    [Fact]
    public void ClaimingAnotherAddress_IsRejected()
    {
        using var mallory = RouterIdentity.Create();

        // Mallory's message, presented as coming from B: its key does not hash to B's address.
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var m = new LinkHandshake(mallory, _a.Address, []);
        Assert.Equal(HandshakeFailure.IdentityMismatch, a.Receive(Message(m), _b.Address).Failure);

        // A message from someone other than the neighbour the netmod reported.
        Assert.Equal(HandshakeFailure.IdentityMismatch, a.Receive(Message(m), mallory.Address).Failure);
    }

    [Fact]
    public void ProofSignedByAnotherKey_IsRejected()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        b.Receive(Message(a), _a.Address);
        var proof = Message(b);

        // Replace B's signature with one by another key over the same bytes: the confirmation still matches (same ECDH), the signature does not.
        using var other = RouterIdentity.Create();
        var signature = other.Key.SignData(new byte[] { 1, 2, 3 }, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        signature.CopyTo(proof.AsSpan(223));
        Assert.Equal(HandshakeFailure.BadSignature, a.Receive(proof, _b.Address).Failure);
    }

    [Fact]
    public void EveryFlippedBitOfAProof_IsRejectedOrIgnored_NeverAccepted()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        b.Receive(Message(a), _a.Address);
        var proof = Message(b);
        for (var bit = 0; bit < proof.Length * 8; bit += 7)
        {
            var tampered = (byte[])proof.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));

            // Against a handshake whose ephemeral key the proof answers.
            var step = a.Receive(tampered, _b.Address);
            Assert.Null(step.Keys);
        }

        // The untouched proof still works.
        Assert.NotNull(a.Receive(proof, _b.Address).Keys);
    }

    [Fact]
    public void ProofForAnOlderEphemeralKey_IsIgnored()
    {
        using var oldA = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        b.Receive(Message(oldA), _a.Address);
        var staleProof = Message(b);

        // A restarted: a new ephemeral key. B's proof answers the old one.
        using var newA = new LinkHandshake(_a, _b.Address, []);
        var step = newA.Receive(staleProof, _b.Address);
        Assert.Equal(HandshakeFailure.None, step.Failure);
        Assert.Null(step.Keys);
        Assert.True(step.SendOurs);

        // The exchange then completes with the new key.
        var answer = b.Receive(Message(newA), _a.Address);
        Assert.NotNull(answer.Keys);
        Assert.True(answer.SendOurs);
        Assert.NotNull(newA.Receive(Message(b), _b.Address).Keys);
    }

    [Fact]
    public void Garbage_IsMalformed()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        Assert.Equal(HandshakeFailure.Malformed, a.Receive(new byte[10], _b.Address).Failure);
        Assert.Equal(HandshakeFailure.Malformed, a.Receive(new byte[LinkHandshakeMessage.Size], _b.Address).Failure);
    }

    [Fact]
    public void EphemeralKeyNotOnTheCurve_IsRejected()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var message = Message(b);
        message[10] ^= 0xFF; // a coordinate of B's ephemeral key
        Assert.Equal(HandshakeFailure.BadEphemeral, a.Receive(message, _b.Address).Failure);
    }

    [Fact]
    public void AnswerLost_TheResentFirstMessageIsAnsweredAgain()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var first = Message(a);
        Assert.True(b.Receive(first, _a.Address).SendOurs);
        _ = Message(b); // B's answer, with its proof: lost on the way

        // A resends its first message a second later: B, whose proof went out already, answers again.
        var again = b.Receive(first, _a.Address);
        Assert.True(again.SendOurs);
        var done = a.Receive(Message(b), _b.Address);
        Assert.NotNull(done.Keys);
        Assert.True(done.SendOurs);
        Assert.NotNull(b.Receive(Message(a), _a.Address).Keys);
    }

    [Fact]
    public void LastProofLost_ThePeersResentProofIsAnswered_AndGivesNoSecondKeys()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        b.Receive(Message(a), _a.Address);
        var proofB = Message(b);
        var keys = a.Receive(proofB, _b.Address);
        Assert.NotNull(keys.Keys);
        Assert.True(keys.SendOurs);
        _ = Message(a); // A's proof: lost on the way

        // B, still waiting, resends its proof. A holds the keys already: no new ones (a second
        // session on the same keys would repeat nonces), but it answers, and B completes.
        var resent = a.Receive(proofB, _b.Address);
        Assert.Null(resent.Keys);
        Assert.True(resent.SendOurs);
        var final = b.Receive(Message(a), _a.Address);
        Assert.Equal(keys.Keys!.SendKey, final.Keys!.ReceiveKey);

        // A's message said it was confirmed: B does not answer it.
        Assert.False(final.SendOurs);
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public void Exchange_EndsWithBothKeyed_AndNothingMoreToSend(bool bothStart, int duplicates)
    {
        // Deliver every message (each 1 + duplicates times) until no side has anything to say.
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var inFlight = new Queue<(LinkHandshake To, byte[] Message)>();
        void Send(LinkHandshake from, LinkHandshake to)
        {
            var message = Message(from);
            for (var i = 0; i <= duplicates; i++)
            {
                inFlight.Enqueue((to, message));
            }
        }

        Send(a, b);
        if (bothStart)
        {
            Send(b, a);
        }

        var keys = new Dictionary<LinkHandshake, int> { [a] = 0, [b] = 0 };
        var delivered = 0;
        while (inFlight.TryDequeue(out var next))
        {
            Assert.True(++delivered < 50, "the two sides keep answering each other");
            var other = next.To == a ? b : a;
            var step = next.To.Receive(next.Message, other.Self);
            Assert.Equal(HandshakeFailure.None, step.Failure);
            if (step.Keys is not null)
            {
                keys[next.To]++;
            }

            if (step.SendOurs)
            {
                Send(next.To, other);
            }
        }

        Assert.Equal(1, keys[a]);
        Assert.Equal(1, keys[b]);
        Assert.True(a.Completed && b.Completed);
    }

    [Fact]
    public void PeerStartsOver_TheDoneHandshakeReportsIt_AndANewOneGivesNewKeys()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var (before, _) = Run(a, b);

        // B restarted: a new handshake, a new ephemeral key, a first message without a proof.
        using var restartedB = new LinkHandshake(_b, _a.Address, []);
        var first = Message(restartedB);
        var step = a.Receive(first, _b.Address);
        Assert.True(step.PeerStartedOver);
        Assert.False(step.SendOurs);
        Assert.Null(step.Keys);

        // A new handshake of A's (a new ephemeral key too) answers it.
        using var a2 = new LinkHandshake(_a, _b.Address, []);
        Assert.True(a2.Receive(first, _b.Address).SendOurs);
        var keysB = restartedB.Receive(Message(a2), _a.Address).Keys;
        var keysA = a2.Receive(Message(restartedB), _b.Address).Keys;
        Assert.Equal(keysA!.SendKey, keysB!.ReceiveKey);
        Assert.NotEqual(before.SendKey, keysA.SendKey);
    }

    [Fact]
    public void AForgedFirstMessage_NeitherRekeysTheLiveLink_NorGetsKeysGivenTwice()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        Run(a, b);

        // Anyone can make a first message in B's name: it carries B's public key and no proof.
        using var forger = new LinkHandshake(_b, _a.Address, []);
        var forged = Message(forger);
        Assert.True(a.Receive(forged, _b.Address).PeerStartedOver);

        // The router answers it with a new handshake, whose answer reaches the real B: a proof
        // for an ephemeral key B never had. B ignores it: its link is not made to start over.
        using var answering = new LinkHandshake(_a, _b.Address, []);
        answering.Receive(forged, _b.Address);
        var answer = b.Receive(Message(answering), _a.Address);
        Assert.Equal(new HandshakeStep(HandshakeFailure.None, false, null), answer);

        // And nothing B sends makes the done handshake give its keys out again.
        var again = a.Receive(Message(b), _b.Address);
        Assert.Null(again.Keys);
        Assert.False(again.PeerStartedOver);
    }

    [Fact]
    public void ConfirmedFlagWithoutAProof_IsMalformed()
    {
        using var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var message = Message(b);
        message[1] = 2;
        Assert.Equal(HandshakeFailure.Malformed, a.Receive(message, _b.Address).Failure);
    }

    /// <summary>
    /// Runs the symmetric exchange to completion (both sides send first, then answer, then
    /// confirm) and returns both sides' keys.
    /// </summary>
    internal static (LinkKeys A, LinkKeys B) Run(LinkHandshake a, LinkHandshake b)
    {
        var fromA = Message(a);
        var fromB = Message(b);
        var stepA = a.Receive(fromB, b.Self);
        var stepB = b.Receive(fromA, a.Self);
        Assert.Equal(HandshakeFailure.None, stepA.Failure);
        Assert.Equal(HandshakeFailure.None, stepB.Failure);
        Assert.True(stepA.SendOurs && stepB.SendOurs);
        var proofA = Message(a);
        var proofB = Message(b);
        var keysA = a.Receive(proofB, b.Self);
        var keysB = b.Receive(proofA, a.Self);

        // The proofs crossed: neither knew the other had its proof, so each confirms once.
        Assert.True(keysA.SendOurs && keysB.SendOurs);
        var confirmA = a.Receive(Message(b), b.Self);
        var confirmB = b.Receive(Message(a), a.Self);
        Assert.False(confirmA.SendOurs || confirmB.SendOurs, "nothing more to send once both confirmed");
        Assert.Null(confirmA.Keys);
        Assert.Null(confirmB.Keys);
        return (Assert.IsType<LinkKeys>(keysA.Keys), Assert.IsType<LinkKeys>(keysB.Keys));
    }

    internal static byte[] Message(LinkHandshake side)
    {
        var payload = new byte[LinkHandshakeMessage.Size];
        side.Write(payload);
        return payload;
    }
}
