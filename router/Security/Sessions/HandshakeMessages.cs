using System.Buffers.Binary;
using System.Security.Cryptography;
using Router.Identity;
using Router.Sdk;

namespace Router.Security.Sessions;

/// <summary>
/// The two messages of the end-to-end key exchange, as frame payloads (docs/wire-format.md,
/// "Session Init" and "Session Accept"), and the byte strings their signatures cover.
/// <code>
/// Init (kind 10), 240 bytes                      Accept (kind 11), 232 bytes
///   0  u8    version (1)                           0  u8    version (1)
///   1  u8    flags (0)                             1  u8    flags (0)
///   2  u16   reserved (0)                          2  u16   reserved (0)
///   4  u32   initiator session id                  4  u32   initiator session id (echoed)
///   8  u32   lost session id (0: none)             8  u32   responder session id
///  12  u64   timestamp (µs since 1970)            12  [65]  responder ephemeral key
///  20  [65]  initiator ephemeral key              77  [91]  responder identity key (SPKI)
///  85  [91]  initiator identity key (SPKI)       168  [64]  signature
/// 176  [64]  signature
/// </code>
/// Ephemeral keys are uncompressed P-256 points (0x04 ‖ X ‖ Y); signatures are ECDSA P-256
/// over SHA-256 in IEEE P1363 form (r ‖ s). The Init signature covers
/// <c>"router-session-v1" ‖ 0x01 ‖ initiator address ‖ responder address ‖ Init[0..85)</c>;
/// the Accept signature covers
/// <c>"router-session-v1" ‖ 0x02 ‖ initiator address ‖ responder address ‖ Init[0..85) ‖ Accept[0..77)</c>,
/// so it binds both ephemeral keys, both session ids and both identities. Identity keys are
/// not signed: each is bound to its router by the address, which is its hash.
/// </summary>
internal static class HandshakeMessages
{
    public const byte Version = 1;
    public const int EphemeralKeyLength = 65;
    public const int InitLength = 240;
    public const int AcceptLength = 232;

    /// <summary>The part of an Init its signature covers (everything before the identity key).</summary>
    public const int InitSignedLength = 85;

    /// <summary>The part of an Accept its signature covers (everything before the identity key).</summary>
    public const int AcceptSignedLength = 77;

    private const int InitSpkiOffset = 85;
    private const int InitSignatureOffset = 176;
    private const int AcceptSpkiOffset = 77;
    private const int AcceptSignatureOffset = 168;
    private const byte InitRole = 1;
    private const byte AcceptRole = 2;

    /// <summary>The label every session signature and key derivation starts with.</summary>
    public static ReadOnlySpan<byte> Label => "router-session-v1"u8;

    /// <summary>Writes an Init, signature included, into <paramref name="destination"/> (<see cref="InitLength"/> bytes).</summary>
    public static void WriteInit(Span<byte> destination, RouterIdentity initiator, RouterAddress responder, uint initiatorId, uint lostId, ulong timestamp, ReadOnlySpan<byte> ephemeralKey)
    {
        destination = destination[..InitLength];
        destination[..4].Clear();
        destination[0] = Version;
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], initiatorId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], lostId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[12..], timestamp);
        ephemeralKey.CopyTo(destination.Slice(20, EphemeralKeyLength));
        initiator.PublicKey.CopyTo(destination.Slice(InitSpkiOffset, PublicKeys.SpkiLength));
        var signed = InitSignedData(initiator.Address, responder, destination[..InitSignedLength]);
        Sign(initiator, signed, destination.Slice(InitSignatureOffset, PublicKeys.SignatureLength));
    }

    /// <summary>Writes an Accept, signature included, into <paramref name="destination"/> (<see cref="AcceptLength"/> bytes).</summary>
    public static void WriteAccept(Span<byte> destination, RouterIdentity responder, RouterAddress initiator, ReadOnlySpan<byte> init, uint responderId, ReadOnlySpan<byte> ephemeralKey)
    {
        destination = destination[..AcceptLength];
        destination[..4].Clear();
        destination[0] = Version;
        init.Slice(4, 4).CopyTo(destination[4..]);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], responderId);
        ephemeralKey.CopyTo(destination.Slice(12, EphemeralKeyLength));
        responder.PublicKey.CopyTo(destination.Slice(AcceptSpkiOffset, PublicKeys.SpkiLength));
        var signed = AcceptSignedData(initiator, responder.Address, init[..InitSignedLength], destination[..AcceptSignedLength]);
        Sign(responder, signed, destination.Slice(AcceptSignatureOffset, PublicKeys.SignatureLength));
    }

    /// <summary>Whether <paramref name="payload"/> has the length and version of an Init.</summary>
    public static bool IsInit(ReadOnlySpan<byte> payload) => payload.Length == InitLength && payload[0] == Version;

    /// <summary>Whether <paramref name="payload"/> has the length and version of an Accept.</summary>
    public static bool IsAccept(ReadOnlySpan<byte> payload) => payload.Length == AcceptLength && payload[0] == Version;

    public static uint InitiatorId(ReadOnlySpan<byte> message) => BinaryPrimitives.ReadUInt32BigEndian(message[4..]);

    public static uint LostId(ReadOnlySpan<byte> init) => BinaryPrimitives.ReadUInt32BigEndian(init[8..]);

    public static ulong Timestamp(ReadOnlySpan<byte> init) => BinaryPrimitives.ReadUInt64BigEndian(init[12..]);

    public static ReadOnlySpan<byte> InitEphemeralKey(ReadOnlySpan<byte> init) => init.Slice(20, EphemeralKeyLength);

    public static ReadOnlySpan<byte> InitIdentityKey(ReadOnlySpan<byte> init) => init.Slice(InitSpkiOffset, PublicKeys.SpkiLength);

    public static uint ResponderId(ReadOnlySpan<byte> accept) => BinaryPrimitives.ReadUInt32BigEndian(accept[8..]);

    public static ReadOnlySpan<byte> AcceptEphemeralKey(ReadOnlySpan<byte> accept) => accept.Slice(12, EphemeralKeyLength);

    public static ReadOnlySpan<byte> AcceptIdentityKey(ReadOnlySpan<byte> accept) => accept.Slice(AcceptSpkiOffset, PublicKeys.SpkiLength);

    /// <summary>Checks an Init's signature with the key it carries (the caller has checked the key belongs to <paramref name="initiator"/>).</summary>
    public static bool VerifyInit(ReadOnlySpan<byte> init, RouterAddress initiator, RouterAddress responder) =>
        Verify(InitIdentityKey(init), InitSignedData(initiator, responder, init[..InitSignedLength]), init.Slice(InitSignatureOffset, PublicKeys.SignatureLength));

    /// <summary>Checks an Accept's signature with the key it carries, against the Init it answers.</summary>
    public static bool VerifyAccept(ReadOnlySpan<byte> accept, ReadOnlySpan<byte> init, RouterAddress initiator, RouterAddress responder) =>
        Verify(AcceptIdentityKey(accept), AcceptSignedData(initiator, responder, init[..InitSignedLength], accept[..AcceptSignedLength]), accept.Slice(AcceptSignatureOffset, PublicKeys.SignatureLength));

    /// <summary>The uncompressed point of a P-256 key: 0x04 ‖ X ‖ Y.</summary>
    public static byte[] ExportEphemeralKey(ECDiffieHellman key)
    {
        var parameters = key.ExportParameters(includePrivateParameters: false);
        var point = new byte[EphemeralKeyLength];
        point[0] = 0x04;
        parameters.Q.X.AsSpan().CopyTo(point.AsSpan(1, 32));
        parameters.Q.Y.AsSpan().CopyTo(point.AsSpan(33, 32));
        return point;
    }

    /// <summary>
    /// Imports a peer's ephemeral key. False (never an exception) when the bytes are not an
    /// uncompressed point on P-256; the import checks the point is on the curve.
    /// </summary>
    public static bool TryImportEphemeralKey(ReadOnlySpan<byte> point, out ECDiffieHellman? key)
    {
        key = null;
        if (point.Length != EphemeralKeyLength || point[0] != 0x04)
        {
            return false;
        }

        try
        {
            key = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = point.Slice(1, 32).ToArray(), Y = point.Slice(33, 32).ToArray() },
            });
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static byte[] InitSignedData(RouterAddress initiator, RouterAddress responder, ReadOnlySpan<byte> initPrefix)
    {
        var data = new byte[Label.Length + 1 + (2 * RouterAddress.Length) + InitSignedLength];
        var position = WritePrefix(data, InitRole, initiator, responder);
        initPrefix.CopyTo(data.AsSpan(position));
        return data;
    }

    private static byte[] AcceptSignedData(RouterAddress initiator, RouterAddress responder, ReadOnlySpan<byte> initPrefix, ReadOnlySpan<byte> acceptPrefix)
    {
        var data = new byte[Label.Length + 1 + (2 * RouterAddress.Length) + InitSignedLength + AcceptSignedLength];
        var position = WritePrefix(data, AcceptRole, initiator, responder);
        initPrefix.CopyTo(data.AsSpan(position));
        acceptPrefix.CopyTo(data.AsSpan(position + InitSignedLength));
        return data;
    }

    private static int WritePrefix(Span<byte> data, byte role, RouterAddress initiator, RouterAddress responder)
    {
        Label.CopyTo(data);
        var position = Label.Length;
        data[position++] = role;
        initiator.Write(data[position..]);
        position += RouterAddress.Length;
        responder.Write(data[position..]);
        return position + RouterAddress.Length;
    }

    private static void Sign(RouterIdentity identity, byte[] data, Span<byte> signature)
    {
        if (!identity.Key.TrySignData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out var written)
            || written != PublicKeys.SignatureLength)
        {
            throw new CryptographicException("A P-256 signature did not fit in 64 bytes.");
        }
    }

    private static bool Verify(ReadOnlySpan<byte> spki, byte[] data, ReadOnlySpan<byte> signature)
    {
        if (!PublicKeys.TryImport(spki, out var key))
        {
            return false;
        }

        using (key)
        {
            return key!.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
    }
}
