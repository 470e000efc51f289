using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Overlay;

/// <summary>
/// ICMPv6 "destination unreachable — no route to destination" (RFC 4443 §3.1: type 1, code 0),
/// written back into the IP interface for a packet to an overlay address that no router in the
/// mesh has, so the program learns it at once (ping prints "Destination unreachable: No route")
/// instead of waiting for a timeout. It comes from this router's overlay address and quotes as
/// much of the packet as fits in 1,280 bytes. Never sent about an ICMPv6 error message, nor to
/// an unspecified or multicast source (RFC 4443 §2.4). The gateway limits how often.
/// </summary>
internal static class Unreachable
{
    /// <summary>Longest error packet: the IPv6 minimum MTU.</summary>
    public const int MaxPacket = 1280;

    /// <summary>Bytes a frame for <see cref="TryWriteNoRoute"/> needs at most.</summary>
    public const int MaxFrame = VirtioNetHeader.Size + MaxPacket;

    private const int Ipv6Header = 40;
    private const int IcmpHeader = 8;
    private const byte NextHeaderIcmpV6 = 58;

    /// <summary>
    /// Writes the frame (virtio header, IPv6 packet) answering <paramref name="packet"/> (an IPv6
    /// packet without its virtio header) from <paramref name="from"/> (16 bytes) into
    /// <paramref name="frame"/>; returns its length, or 0 when no error may be sent about it.
    /// </summary>
    public static int TryWriteNoRoute(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> from, Span<byte> frame)
    {
        if (packet.Length < Ipv6Header || packet[0] >> 4 != 6)
        {
            return 0;
        }

        var source = packet.Slice(8, 16);
        if (source[0] == 0xff || source.IndexOfAnyExcept((byte)0) < 0)
        {
            return 0;
        }

        // An ICMPv6 error (types 0–127) is never answered with another.
        if (packet[6] == NextHeaderIcmpV6 && packet.Length > Ipv6Header && packet[Ipv6Header] < 128)
        {
            return 0;
        }

        var quoted = Math.Min(packet.Length, MaxPacket - Ipv6Header - IcmpHeader);
        var payloadLength = IcmpHeader + quoted;
        VirtioNetHeader.None.Write(frame);
        var ip = frame.Slice(VirtioNetHeader.Size, Ipv6Header + payloadLength);
        ip.Clear();
        ip[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payloadLength);
        ip[6] = NextHeaderIcmpV6;
        ip[7] = 64;
        from[..16].CopyTo(ip[8..]);
        source.CopyTo(ip[24..]);
        var icmp = ip[Ipv6Header..];
        icmp[0] = 1; // destination unreachable
        icmp[1] = 0; // no route to destination
        packet[..quoted].CopyTo(icmp[IcmpHeader..]);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum(ip.Slice(8, 16), ip.Slice(24, 16), icmp));
        return VirtioNetHeader.Size + Ipv6Header + payloadLength;
    }

    /// <summary>The ICMPv6 checksum: ones' complement of the ones' complement sum over the pseudo-header and the message (checksum field zero).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, ReadOnlySpan<byte> message)
    {
        ulong sum = Sum(source) + Sum(destination) + (uint)message.Length + NextHeaderIcmpV6 + Sum(message);
        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static ulong Sum(ReadOnlySpan<byte> bytes)
    {
        ulong sum = 0;
        var i = 0;
        for (; i + 1 < bytes.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(bytes[i..]);
        }

        if (i < bytes.Length)
        {
            sum += (ulong)bytes[i] << 8;
        }

        return sum;
    }
}
