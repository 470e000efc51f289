using System.Security.Cryptography;
using System.Text.Json;
using Router.Identity;
using Router.Sdk;
using Router.Security;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Tests.Security.Sessions;

/// <summary>
/// The checked-in vectors tests/vectors/session-keys.json and tests/vectors/sealed-message.json,
/// made with Python's cryptography package rather than this code: the router must reproduce
/// them byte for byte (signatures excepted: ECDSA is randomized, so those are verify-only).
/// </summary>
public sealed class SessionVectorTests
{
    private static readonly JsonElement Keys = TestVectors.Load("session-keys.json");
    private static readonly JsonElement Sealed = TestVectors.Load("sealed-message.json");

    private static string Text(JsonElement vector, string name) => vector.GetProperty(name).GetString()!;

    private static byte[] Hex(JsonElement vector, string name) => Convert.FromHexString(Text(vector, name));

    private static RouterAddress Address(string name) => RouterAddress.Parse(Text(Keys, name));

    /// <summary>Every sealed-message case, with each AES-256-GCM implementation this machine has.</summary>
    public static TheoryData<string, bool> SealedCases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Sealed.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!))
        {
            data.Add(name, false);
            if (AeadKey.LibsodiumAvailable)
            {
                data.Add(name, true);
            }
        }

        return data;
    }

    private static JsonElement Case(string name) => Sealed.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public void Identities_MatchTheirAddresses()
    {
        using var initiator = RouterIdentity.FromPem(Text(Keys, "initiatorIdentityPkcs8Pem"));
        using var responder = RouterIdentity.FromPem(Text(Keys, "responderIdentityPkcs8Pem"));

        Assert.Equal(Hex(Keys, "initiatorSpkiHex"), initiator.PublicKey);
        Assert.Equal(Address("initiatorAddress"), initiator.Address);
        Assert.Equal(Hex(Keys, "responderSpkiHex"), responder.PublicKey);
        Assert.Equal(Address("responderAddress"), responder.Address);
    }

    [Fact]
    public void WriteInitAndAccept_VectorInputs_GiveTheVectorsBytesAndSignaturesVerify()
    {
        using var initiator = RouterIdentity.FromPem(Text(Keys, "initiatorIdentityPkcs8Pem"));
        using var responder = RouterIdentity.FromPem(Text(Keys, "responderIdentityPkcs8Pem"));
        var expectedInit = Hex(Keys, "initHex");
        var expectedAccept = Hex(Keys, "acceptHex");

        var init = new byte[HandshakeMessages.InitLength];
        HandshakeMessages.WriteInit(init, initiator, responder.Address, Keys.GetProperty("initiatorSessionId").GetUInt32(), Keys.GetProperty("lostSessionId").GetUInt32(),
            Keys.GetProperty("timestampMicroseconds").GetUInt64(), Hex(Keys, "initiatorEphemeralPointHex"));
        var accept = new byte[HandshakeMessages.AcceptLength];
        HandshakeMessages.WriteAccept(accept, responder, initiator.Address, expectedInit, Keys.GetProperty("responderSessionId").GetUInt32(), Hex(Keys, "responderEphemeralPointHex"));

        // Everything but the (randomized) signatures, byte for byte.
        Assert.Equal(Convert.ToHexStringLower(expectedInit[..176]), Convert.ToHexStringLower(init[..176]));
        Assert.Equal(Convert.ToHexStringLower(expectedAccept[..168]), Convert.ToHexStringLower(accept[..168]));

        // Both the vector's signatures and ours verify: the signed strings are the same.
        Assert.True(HandshakeMessages.VerifyInit(expectedInit, initiator.Address, responder.Address));
        Assert.True(HandshakeMessages.VerifyInit(init, initiator.Address, responder.Address));
        Assert.True(HandshakeMessages.VerifyAccept(expectedAccept, expectedInit, initiator.Address, responder.Address));
        Assert.True(HandshakeMessages.VerifyAccept(accept, expectedInit, initiator.Address, responder.Address));
        Assert.False(HandshakeMessages.VerifyInit(expectedInit, initiator.Address, initiator.Address));
    }

    [Fact]
    public void Ecdh_VectorEphemeralKeys_GiveTheSharedSecret()
    {
        using var initiator = ECDiffieHellman.Create();
        initiator.ImportFromPem(Text(Keys, "initiatorEphemeralPkcs8Pem"));
        Assert.Equal(Hex(Keys, "initiatorEphemeralPointHex"), HandshakeMessages.ExportEphemeralKey(initiator));
        Assert.True(HandshakeMessages.TryImportEphemeralKey(Hex(Keys, "responderEphemeralPointHex"), out var responder));
        using (responder)
        {
            Assert.Equal(Text(Keys, "sharedSecretHex"), Convert.ToHexStringLower(initiator.DeriveRawSecretAgreement(responder!.PublicKey)));
        }
    }

    [Fact]
    public void KeySchedule_VectorTranscript_GivesTheVectorsHashAndKeys()
    {
        var hash = new byte[32];
        KeySchedule.TranscriptHash(Address("initiatorAddress"), Address("responderAddress"), Hex(Keys, "initHex"), Hex(Keys, "acceptHex"), hash);
        Assert.Equal(Text(Keys, "transcriptHashHex"), Convert.ToHexStringLower(hash));

        var initiatorToResponder = new byte[32];
        var responderToInitiator = new byte[32];
        KeySchedule.DeriveKeys(Hex(Keys, "sharedSecretHex"), hash, initiatorToResponder, responderToInitiator);
        Assert.Equal(Text(Keys, "initiatorToResponderKeyHex"), Convert.ToHexStringLower(initiatorToResponder));
        Assert.Equal(Text(Keys, "responderToInitiatorKeyHex"), Convert.ToHexStringLower(responderToInitiator));
        Assert.Equal(Text(Keys, "initiatorToResponderInfo"), System.Text.Encoding.ASCII.GetString(KeySchedule.InitiatorToResponder));
        Assert.Equal(Text(Keys, "responderToInitiatorInfo"), System.Text.Encoding.ASCII.GetString(KeySchedule.ResponderToInitiator));
    }

    [Theory]
    [MemberData(nameof(SealedCases))]
    public void Seal_VectorInputs_GiveTheVectorsBytes_AndOpenReverses(string name, bool libsodium)
    {
        var vector = Case(name);
        var plaintext = Hex(vector, "plaintextHex");
        var aad = new byte[SealedMessage.AssociatedDataLength];
        SealedMessage.WriteAssociatedData(aad, (FrameKind)vector.GetProperty("kind").GetByte(), RouterAddress.Read(Hex(vector, "destinationHex")),
            RouterAddress.Read(Hex(vector, "sourceHex")), vector.GetProperty("messageId").GetUInt32(), vector.GetProperty("messageLength").GetUInt32());
        Assert.Equal(Text(vector, "associatedDataHex"), Convert.ToHexStringLower(aad));
        var nonce = new byte[SealedMessage.NonceLength];
        SealedMessage.WriteNonce(nonce, vector.GetProperty("direction").GetUInt32(), vector.GetProperty("counter").GetUInt64());
        Assert.Equal(Text(vector, "nonceHex"), Convert.ToHexStringLower(nonce));

        using var aead = new AeadKey(Hex(vector, "keyHex"), libsodium);
        var output = new byte[plaintext.Length + SealedMessage.Overhead];
        SealedMessage.Seal(aead, vector.GetProperty("direction").GetUInt32(), vector.GetProperty("receiverSessionId").GetUInt32(), vector.GetProperty("counter").GetUInt64(), aad, plaintext, output);
        Assert.Equal(Text(vector, "sealedHex"), Convert.ToHexStringLower(output));

        var opened = new byte[plaintext.Length];
        Assert.True(SealedMessage.TryOpen(aead, vector.GetProperty("direction").GetUInt32(), output, aad, opened));
        Assert.Equal(plaintext, opened);
    }

    [Fact]
    public void SessionSeal_FirstMessageOfTheVectorSession_IsTheVectorsSealedMessage()
    {
        // A session made with the vector's keys, on the initiator's side, seals exactly that.
        var vector = Case("first message from the initiator");
        var session = new Session(Address("responderAddress"), initiator: true, Keys.GetProperty("initiatorSessionId").GetUInt32(), Keys.GetProperty("responderSessionId").GetUInt32(),
            Hex(Keys, "initiatorToResponderKeyHex"), Hex(Keys, "responderToInitiatorKeyHex"), sendLimit: 10, created: 0);
        using (session)
        {
            var plaintext = Hex(vector, "plaintextHex");
            var output = new byte[plaintext.Length + SealedMessage.Overhead];
            Assert.True(session.TrySeal(FrameKind.Message, Address("initiatorAddress"), vector.GetProperty("messageId").GetUInt32(), plaintext, output, 0));
            Assert.Equal(Text(vector, "sealedHex"), Convert.ToHexStringLower(output));
        }
    }
}
