using System.Buffers.Binary;
using Router.Sdk;
using Router.Switching;

namespace Router.Security.Sessions;

/// <summary>
/// The layout of an end-to-end sealed message (the whole message of a kind-1 frame, before
/// slicing): <c>u32 receiver session id ‖ u64 counter ‖ ciphertext ‖ 16-byte tag</c>, AES-256-GCM
/// (<see cref="AeadKey"/>).
/// The nonce is <c>u32 direction ‖ u64 counter</c> (direction 0 from the session's initiator, 1
/// from its responder); each direction also has its own key, and a counter is used once. The
/// associated data is the part of the frame header no relay changes:
/// <c>kind ‖ destination ‖ source ‖ message id ‖ message length</c> (73 bytes; not the hop limit,
/// not the slice offset). Checked by tests/vectors/sealed-message.json.
/// </summary>
internal static class SealedMessage
{
    public const int HeaderLength = 12;
    public const int TagLength = AeadKey.TagLength;
    public const int Overhead = HeaderLength + TagLength;
    public const int NonceLength = AeadKey.NonceLength;
    public const int AssociatedDataLength = 1 + (2 * RouterAddress.Length) + 4 + 4;

    public static void WriteAssociatedData(Span<byte> aad, FrameKind kind, RouterAddress destination, RouterAddress source, uint messageId, uint messageLength)
    {
        aad[0] = (byte)kind;
        destination.Write(aad.Slice(1, RouterAddress.Length));
        source.Write(aad.Slice(1 + RouterAddress.Length, RouterAddress.Length));
        BinaryPrimitives.WriteUInt32BigEndian(aad[65..], messageId);
        BinaryPrimitives.WriteUInt32BigEndian(aad[69..], messageLength);
    }

    public static void WriteNonce(Span<byte> nonce, uint direction, ulong counter)
    {
        BinaryPrimitives.WriteUInt32BigEndian(nonce, direction);
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
    }

    public static uint ReceiverId(ReadOnlySpan<byte> sealedMessage) => BinaryPrimitives.ReadUInt32BigEndian(sealedMessage);

    public static ulong Counter(ReadOnlySpan<byte> sealedMessage) => BinaryPrimitives.ReadUInt64BigEndian(sealedMessage[4..]);

    /// <summary>
    /// Seals <paramref name="plaintext"/> into <paramref name="output"/>, which is exactly
    /// <see cref="Overhead"/> bytes longer. Allocates nothing.
    /// </summary>
    public static void Seal(AeadKey aead, uint direction, uint receiverId, ulong counter, ReadOnlySpan<byte> associatedData, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        BinaryPrimitives.WriteUInt32BigEndian(output, receiverId);
        BinaryPrimitives.WriteUInt64BigEndian(output[4..], counter);
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(nonce, direction, counter);
        aead.Encrypt(nonce, plaintext, output[HeaderLength..], associatedData);
    }

    /// <summary>
    /// Opens a sealed message into <paramref name="plaintext"/> (<see cref="Overhead"/> bytes
    /// shorter); false when the tag does not verify. Allocates nothing when it succeeds.
    /// </summary>
    public static bool TryOpen(AeadKey aead, uint direction, ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        WriteNonce(nonce, direction, Counter(sealedMessage));
        return aead.TryDecrypt(nonce, sealedMessage[HeaderLength..], plaintext[..(sealedMessage.Length - Overhead)], associatedData);
    }
}
