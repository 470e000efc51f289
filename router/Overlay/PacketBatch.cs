using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Overlay;

/// <summary>
/// The plaintext of a <see cref="Switching.FrameKind.Packets"/> message: IP packets for one
/// destination router, back to back, each as its IP interface read it.
/// <code>
/// repeated:  u16 packet length   [10] virtio_net_hdr (VirtioNetHeader)   IP packet
/// </code>
/// One batch is sealed with one AEAD call (docs/wire-format.md), so a burst of small packets
/// costs one seal, not one per packet.
/// </summary>
internal static class PacketBatch
{
    /// <summary>Bytes of a record's length field.</summary>
    public const int LengthSize = 2;

    /// <summary>Bytes a record adds in front of the IP packet: the length and the virtio header.</summary>
    public const int RecordOverhead = LengthSize + VirtioNetHeader.Size;

    /// <summary>Shortest IP packet taken: an IPv4 header.</summary>
    public const int MinimumPacket = 20;

    /// <summary>
    /// Appends a record for <paramref name="frame"/> (a virtio header and an IP packet, as a
    /// local netmod reads it) at <paramref name="position"/>; returns the position after it.
    /// </summary>
    public static int Append(Span<byte> batch, int position, ReadOnlySpan<byte> frame)
    {
        WriteLength(batch[position..], frame.Length);
        frame.CopyTo(batch[(position + LengthSize)..]);
        return position + LengthSize + frame.Length;
    }

    /// <summary>
    /// Writes the length field of a record whose frame (virtio header and packet, <paramref name="frameLength"/>
    /// bytes) follows it in place: the start of <paramref name="record"/>.
    /// </summary>
    public static void WriteLength(Span<byte> record, int frameLength) =>
        BinaryPrimitives.WriteUInt16BigEndian(record, (ushort)(frameLength - VirtioNetHeader.Size));

    /// <summary>
    /// Reads the record at <paramref name="position"/>: where its frame (virtio header and packet)
    /// starts and how long it is. False when the record does not fit the batch or its packet is
    /// shorter than an IP header.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> batch, int position, out int frameStart, out int frameLength)
    {
        frameStart = position + LengthSize;
        frameLength = 0;
        if (position + RecordOverhead > batch.Length)
        {
            return false;
        }

        int packetLength = BinaryPrimitives.ReadUInt16BigEndian(batch[position..]);
        frameLength = VirtioNetHeader.Size + packetLength;
        return packetLength >= MinimumPacket && frameStart + frameLength <= batch.Length;
    }

    /// <summary>
    /// The destination address of the IP packet in <paramref name="frame"/> (after its virtio
    /// header): 4 bytes for IPv4, 16 for IPv6; empty when it is not a well-formed start of an IP packet.
    /// </summary>
    public static ReadOnlySpan<byte> Destination(ReadOnlySpan<byte> frame) => Address(frame, 16, 24);

    /// <summary>The source address of the IP packet in <paramref name="frame"/>, as <see cref="Destination"/>.</summary>
    public static ReadOnlySpan<byte> Source(ReadOnlySpan<byte> frame) => Address(frame, 12, 8);

    private static ReadOnlySpan<byte> Address(ReadOnlySpan<byte> frame, int v4Offset, int v6Offset)
    {
        if (frame.Length < VirtioNetHeader.Size + MinimumPacket)
        {
            return default;
        }

        var packet = frame[VirtioNetHeader.Size..];
        return (packet[0] >> 4) switch
        {
            4 => packet.Slice(v4Offset, 4),
            6 when packet.Length >= 40 => packet.Slice(v6Offset, 16),
            _ => default,
        };
    }
}
