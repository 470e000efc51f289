using Router.Identity;

namespace Router.Security.Links;

/// <summary>
/// The payload of a link-handshake frame (kind 9). Both neighbours send one as soon as the
/// netmod reports the link up, and answer the other's with a proof. Fixed size, big-endian:
/// <code>
///   0  u8    version (1)
///   1  u8    flags: bit 0 = this message answers PeerEphemeral and carries a proof;
///            bit 1 = the sender has verified the receiver's proof for this same pair of
///            ephemeral keys (it holds the link keys): nothing more is needed from the receiver
///   2  [65]  sender's ephemeral P-256 public key, uncompressed (0x04 ‖ X ‖ Y)
///  67  [65]  the receiver's ephemeral key being answered (zeros without a proof)
/// 132  [91]  sender's identity key, SubjectPublicKeyInfo; SHA-256 of it is the sender's address
/// 223  [64]  ECDSA P-256 signature (r ‖ s) over the transcript (zeros without a proof)
/// 287  [32]  key confirmation: HMAC-SHA256 under a key derived from the exchange and the
///            network secret (zeros without a proof)
/// </code>
/// Parsing checks lengths, version and flags only; the cryptography is <see cref="LinkKeySchedule"/>'s.
/// </summary>
internal readonly ref struct LinkHandshakeMessage
{
    public const byte CurrentVersion = 1;
    public const int EphemeralLength = 65;
    public const int ConfirmationLength = 32;
    public const int Size = 2 + EphemeralLength + EphemeralLength + PublicKeys.SpkiLength + PublicKeys.SignatureLength + ConfirmationLength;

    private const byte ProofFlag = 1;
    private const byte ConfirmedFlag = 2;
    private const int PeerEphemeralOffset = 2 + EphemeralLength;
    private const int SpkiOffset = PeerEphemeralOffset + EphemeralLength;
    private const int SignatureOffset = SpkiOffset + PublicKeys.SpkiLength;
    private const int ConfirmationOffset = SignatureOffset + PublicKeys.SignatureLength;

    private LinkHandshakeMessage(ReadOnlySpan<byte> payload)
    {
        HasProof = (payload[1] & ProofFlag) != 0;
        Confirmed = (payload[1] & ConfirmedFlag) != 0;
        Ephemeral = payload.Slice(2, EphemeralLength);
        PeerEphemeral = payload.Slice(PeerEphemeralOffset, EphemeralLength);
        Spki = payload.Slice(SpkiOffset, PublicKeys.SpkiLength);
        Signature = payload.Slice(SignatureOffset, PublicKeys.SignatureLength);
        Confirmation = payload.Slice(ConfirmationOffset, ConfirmationLength);
    }

    public bool HasProof { get; }

    /// <summary>The sender holds the link keys for the pair of ephemeral keys this proof is about.</summary>
    public bool Confirmed { get; }

    public ReadOnlySpan<byte> Ephemeral { get; }

    public ReadOnlySpan<byte> PeerEphemeral { get; }

    public ReadOnlySpan<byte> Spki { get; }

    public ReadOnlySpan<byte> Signature { get; }

    public ReadOnlySpan<byte> Confirmation { get; }

    /// <summary>Why a payload is not a handshake message.</summary>
    public enum Error
    {
        None,
        WrongLength,
        UnknownVersion,
        UnknownFlags,
        NotAPoint,
    }

    /// <summary>Reads a payload without copying; never throws.</summary>
    public static Error TryRead(ReadOnlySpan<byte> payload, out LinkHandshakeMessage message)
    {
        message = default;
        if (payload.Length != Size)
        {
            return Error.WrongLength;
        }

        if (payload[0] != CurrentVersion)
        {
            return Error.UnknownVersion;
        }

        // Confirmed only makes sense with a proof: it is about the pair the proof answers.
        if ((payload[1] & ~(ProofFlag | ConfirmedFlag)) != 0 || payload[1] == ConfirmedFlag)
        {
            return Error.UnknownFlags;
        }

        message = new LinkHandshakeMessage(payload);
        if (message.Ephemeral[0] != 4 || (message.HasProof && message.PeerEphemeral[0] != 4))
        {
            message = default;
            return Error.NotAPoint;
        }

        return Error.None;
    }

    /// <summary>
    /// Writes a message; <paramref name="peerEphemeral"/> empty means no proof (and signature,
    /// confirmation and <paramref name="confirmed"/> are ignored).
    /// </summary>
    public static void Write(Span<byte> payload, ReadOnlySpan<byte> ephemeral, ReadOnlySpan<byte> peerEphemeral, ReadOnlySpan<byte> spki, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> confirmation, bool confirmed = false)
    {
        payload[..Size].Clear();
        payload[0] = CurrentVersion;
        ephemeral.CopyTo(payload[2..]);
        spki.CopyTo(payload[SpkiOffset..]);
        if (!peerEphemeral.IsEmpty)
        {
            payload[1] = confirmed ? (byte)(ProofFlag | ConfirmedFlag) : ProofFlag;
            peerEphemeral.CopyTo(payload[PeerEphemeralOffset..]);
            signature.CopyTo(payload[SignatureOffset..]);
            confirmation.CopyTo(payload[ConfirmationOffset..]);
        }
    }
}
