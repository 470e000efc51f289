using System.Buffers.Binary;
using System.Security.Cryptography;
using Router.Identity;
using Router.Sdk;

namespace Router.Security.Sessions;

/// <summary>
/// Signed floods. A flood goes to every router, so it cannot be sealed to one; instead the
/// source signs it and every router checks the signature once the message is reassembled.
/// The whole flood message is <c>payload ‖ source identity key (SPKI, 91) ‖ signature (64)</c>,
/// the signature ECDSA P-256 / SHA-256 (IEEE P1363) over
/// <c>"router-flood-v1" ‖ source address ‖ u32 message id ‖ payload</c>. The key must hash to
/// the frame's source address. Relays pass slices on without checking (they have no whole
/// message), exactly as before; only delivery depends on the signature.
/// </summary>
internal static class FloodSignature
{
    /// <summary>Bytes the trailer adds to a flood message.</summary>
    public const int Overhead = PublicKeys.SpkiLength + PublicKeys.SignatureLength;

    public static ReadOnlySpan<byte> Label => "router-flood-v1"u8;

    /// <summary>Writes the trailer for <paramref name="payload"/> into <paramref name="trailer"/> (<see cref="Overhead"/> bytes).</summary>
    public static void Sign(RouterIdentity source, uint messageId, ReadOnlySpan<byte> payload, Span<byte> trailer)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        Hash(source.Address, messageId, payload, hash);
        source.PublicKey.CopyTo(trailer);
        if (!source.Key.TrySignHash(hash, trailer.Slice(PublicKeys.SpkiLength, PublicKeys.SignatureLength), DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out var written)
            || written != PublicKeys.SignatureLength)
        {
            throw new CryptographicException("A P-256 signature did not fit in 64 bytes.");
        }
    }

    /// <summary>
    /// Checks a whole flood message from <paramref name="source"/>; on success
    /// <paramref name="payloadLength"/> is the length of the payload before the trailer.
    /// </summary>
    public static bool TryVerify(RouterAddress source, uint messageId, ReadOnlySpan<byte> message, out int payloadLength)
    {
        payloadLength = message.Length - Overhead;
        if (payloadLength < 0)
        {
            return false;
        }

        var spki = message.Slice(payloadLength, PublicKeys.SpkiLength);
        if (!PublicKeys.BelongsTo(spki, source) || !PublicKeys.TryImport(spki, out var key))
        {
            return false;
        }

        using (key)
        {
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            Hash(source, messageId, message[..payloadLength], hash);
            return key!.VerifyHash(hash, message.Slice(payloadLength + PublicKeys.SpkiLength, PublicKeys.SignatureLength), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
    }

    // ECDSA signs the SHA-256 of the data, so signing this hash is signing the concatenation.
    private static void Hash(RouterAddress source, uint messageId, ReadOnlySpan<byte> payload, Span<byte> hash)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> fields = stackalloc byte[RouterAddress.Length + 4];
        source.Write(fields);
        BinaryPrimitives.WriteUInt32BigEndian(fields[RouterAddress.Length..], messageId);
        sha.AppendData(Label);
        sha.AppendData(fields);
        sha.AppendData(payload);
        sha.GetHashAndReset(hash);
    }
}
