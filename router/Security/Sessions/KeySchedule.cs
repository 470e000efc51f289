using System.Security.Cryptography;
using Router.Sdk;

namespace Router.Security.Sessions;

/// <summary>
/// Session keys from a finished key exchange:
/// <code>
/// TH  = SHA-256("router-session-v1" ‖ initiator address ‖ responder address ‖ Init ‖ Accept)
/// PRK = HKDF-Extract(salt = TH, IKM = ECDH(initiator ephemeral, responder ephemeral))   (SHA-256; the IKM is the 32-byte x-coordinate)
/// K_i = HKDF-Expand(PRK, "router-session-v1 initiator to responder", 32)
/// K_r = HKDF-Expand(PRK, "router-session-v1 responder to initiator", 32)
/// </code>
/// Init and Accept are the whole messages, signatures included, so both sides derive keys
/// only from the exchange they both saw. Checked by tests/vectors/session-keys.json.
/// </summary>
internal static class KeySchedule
{
    public const int KeyLength = 32;
    public const int TranscriptHashLength = 32;

    public static ReadOnlySpan<byte> InitiatorToResponder => "router-session-v1 initiator to responder"u8;

    public static ReadOnlySpan<byte> ResponderToInitiator => "router-session-v1 responder to initiator"u8;

    /// <summary>The transcript hash TH of a finished exchange.</summary>
    public static void TranscriptHash(RouterAddress initiator, RouterAddress responder, ReadOnlySpan<byte> init, ReadOnlySpan<byte> accept, Span<byte> hash)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> addresses = stackalloc byte[2 * RouterAddress.Length];
        initiator.Write(addresses);
        responder.Write(addresses[RouterAddress.Length..]);
        sha.AppendData(HandshakeMessages.Label);
        sha.AppendData(addresses);
        sha.AppendData(init);
        sha.AppendData(accept);
        sha.GetHashAndReset(hash);
    }

    /// <summary>The two direction keys from the ECDH shared secret and the transcript hash.</summary>
    public static void DeriveKeys(ReadOnlySpan<byte> sharedSecret, ReadOnlySpan<byte> transcriptHash, Span<byte> initiatorToResponder, Span<byte> responderToInitiator)
    {
        Span<byte> prk = stackalloc byte[32];
        try
        {
            HKDF.Extract(HashAlgorithmName.SHA256, sharedSecret, transcriptHash, prk);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, initiatorToResponder[..KeyLength], InitiatorToResponder);
            HKDF.Expand(HashAlgorithmName.SHA256, prk, responderToInitiator[..KeyLength], ResponderToInitiator);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(prk);
        }
    }
}
