using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Switching;

/// <summary>What a frame carries. Numbers are wire values (docs/wire-format.md).</summary>
internal enum FrameKind : byte
{
    /// <summary>A slice of an application message for the destination router.</summary>
    Message = 1,

    /// <summary>Routing: link measurement, to one neighbour (hop limit 1).</summary>
    Hello = 2,

    /// <summary>Routing: routes offered to one neighbour (hop limit 1).</summary>
    Update = 3,

    /// <summary>Routing: a request for a newer sequence number, to one neighbour (hop limit 1).</summary>
    SeqnoRequest = 4,

    /// <summary>Echo request (ping, traceroute), routed to the destination.</summary>
    EchoRequest = 5,

    /// <summary>Echo reply, routed back to the requester.</summary>
    EchoReply = 6,

    /// <summary>An echo request ran out of hops here; routed back to its source with the request's header.</summary>
    HopLimitExceeded = 7,

    /// <summary>A slice of a message for every router (destination all-zero), flooded with duplicate suppression.</summary>
    Flood = 8,

    /// <summary>Link handshake: proves the neighbour's identity and agrees link keys (hop limit 1, docs/security.md).</summary>
    LinkHandshake = 9,

    /// <summary>End-to-end session: the initiator's half of the key exchange, routed to the destination.</summary>
    SessionInit = 10,

    /// <summary>End-to-end session: the responder's half of the key exchange, routed back.</summary>
    SessionAccept = 11,

    /// <summary>A slice of a sealed batch of IP packets for the destination router's IP interface (<see cref="Overlay.PacketBatch"/>).</summary>
    Packets = 12,
}

/// <summary>Why a frame was rejected by the parser.</summary>
internal enum FrameError
{
    None,
    TooShort,
    UnknownVersion,
    UnknownKind,
    BadSlice,
    MessageTooLarge,
}

/// <summary>
/// The header every frame starts with: 80 bytes, big-endian.
/// <code>
///  0  u8   version (1)
///  1  u8   kind (FrameKind)
///  2  u8   hop limit: frames arriving with 0 or 1 are not forwarded
///  3  u8   flags (reserved, 0)
///  4  [32] destination router address
/// 36  [32] source router address
/// 68  u32  message id, chosen by the source
/// 72  u32  message length in bytes (all slices together)
/// 76  u32  offset of this slice's payload within the message
/// 80  ...  payload: the rest of the frame
/// </code>
/// Offsets rather than slice numbers let a relay cut a slice again for a link with smaller
/// frames; only the destination reassembles. Parsing reads from a span and allocates nothing.
/// </summary>
internal readonly struct FrameHeader
{
    public const byte CurrentVersion = 1;
    public const int Size = 80;
    public const int HopLimitOffset = 2;
    public const int DestinationOffset = 4;

    public FrameHeader(FrameKind kind, byte hopLimit, RouterAddress destination, RouterAddress source, uint messageId, uint messageLength, uint offset)
    {
        Kind = kind;
        HopLimit = hopLimit;
        Destination = destination;
        Source = source;
        MessageId = messageId;
        MessageLength = messageLength;
        Offset = offset;
    }

    public FrameKind Kind { get; }

    public byte HopLimit { get; }

    public RouterAddress Destination { get; }

    public RouterAddress Source { get; }

    public uint MessageId { get; }

    public uint MessageLength { get; }

    public uint Offset { get; }

    /// <summary>
    /// Parses and checks a frame's header: known version and kind, and a payload that lies
    /// within a message of at most <paramref name="maxMessageLength"/> bytes.
    /// </summary>
    public static FrameError TryRead(ReadOnlySpan<byte> frame, uint maxMessageLength, out FrameHeader header)
    {
        header = default;
        if (frame.Length < Size)
        {
            return FrameError.TooShort;
        }

        if (frame[0] != CurrentVersion)
        {
            return FrameError.UnknownVersion;
        }

        var kind = (FrameKind)frame[1];
        if (kind is < FrameKind.Message or > FrameKind.Packets)
        {
            return FrameError.UnknownKind;
        }

        var messageLength = BinaryPrimitives.ReadUInt32BigEndian(frame[72..]);
        var offset = BinaryPrimitives.ReadUInt32BigEndian(frame[76..]);
        var payloadLength = (uint)(frame.Length - Size);
        if (messageLength > maxMessageLength)
        {
            return FrameError.MessageTooLarge;
        }

        // A slice must carry bytes (only an empty message has an empty slice) and end within the message.
        if ((payloadLength == 0 && messageLength != 0) || (ulong)offset + payloadLength > messageLength)
        {
            return FrameError.BadSlice;
        }

        header = new FrameHeader(
            kind,
            frame[2],
            RouterAddress.Read(frame.Slice(DestinationOffset, RouterAddress.Length)),
            RouterAddress.Read(frame.Slice(36, RouterAddress.Length)),
            BinaryPrimitives.ReadUInt32BigEndian(frame[68..]),
            messageLength,
            offset);
        return FrameError.None;
    }

    public const int OffsetOffset = 76;

    /// <summary>Rewrites the slice offset of a frame in place (for re-slicing at a relay).</summary>
    public static void WriteOffset(Span<byte> frame, uint offset) => BinaryPrimitives.WriteUInt32BigEndian(frame[OffsetOffset..], offset);

    /// <summary>Whether frames of this kind go only to a neighbour and are handled there, never forwarded.</summary>
    public static bool IsLinkLocal(FrameKind kind) => kind is FrameKind.Hello or FrameKind.Update or FrameKind.SeqnoRequest or FrameKind.LinkHandshake;

    /// <summary>Whether frames of this kind are routing control frames, which carry a link seal (docs/security.md).</summary>
    public static bool IsSealedControl(FrameKind kind) => kind is FrameKind.Hello or FrameKind.Update or FrameKind.SeqnoRequest;

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        destination[0] = CurrentVersion;
        destination[1] = (byte)Kind;
        destination[2] = HopLimit;
        destination[3] = 0;
        Destination.Write(destination.Slice(DestinationOffset, RouterAddress.Length));
        Source.Write(destination.Slice(36, RouterAddress.Length));
        BinaryPrimitives.WriteUInt32BigEndian(destination[68..], MessageId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[72..], MessageLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffsetOffset..], Offset);
    }
}
