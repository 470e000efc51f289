using System.Buffers.Binary;

namespace Router.Netmods.Tun;

/// <summary>The few facts of an IPv4 or IPv6 header the netmod reads. Total: never throws, whatever the bytes.</summary>
internal static class IpPacket
{
    /// <summary>Length of an IPv4 header without options.</summary>
    public const int Ipv4HeaderLength = 20;

    /// <summary>Length of the fixed IPv6 header.</summary>
    public const int Ipv6HeaderLength = 40;

    /// <summary>IP protocol number of TCP.</summary>
    public const byte Tcp = 6;

    /// <summary>IP protocol number of UDP.</summary>
    public const byte Udp = 17;

    /// <summary>The version nibble: 4 or 6 for IP, anything else for what is not; 0 for no bytes.</summary>
    public static int Version(ReadOnlySpan<byte> packet) => packet.IsEmpty ? 0 : packet[0] >> 4;

    /// <summary>
    /// The length of the packet according to its header (IPv4 total length, IPv6 40 + payload
    /// length), or -1 when the header is truncated, is neither version, or claims a length that
    /// is shorter than its header or longer than <paramref name="packet"/>. Trailing bytes
    /// beyond the claimed length are allowed.
    /// </summary>
    public static int Length(ReadOnlySpan<byte> packet)
    {
        switch (Version(packet))
        {
            case 4:
                if (packet.Length < Ipv4HeaderLength)
                {
                    return -1;
                }

                var headerLength = Ipv4HeaderLengthOf(packet);
                var total = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
                return headerLength >= Ipv4HeaderLength && total >= headerLength && total <= packet.Length ? total : -1;
            case 6:
                if (packet.Length < Ipv6HeaderLength)
                {
                    return -1;
                }

                // A payload length of 0 announces a jumbogram, which a TUN device never carries.
                var payload = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
                var length = Ipv6HeaderLength + payload;
                return payload > 0 && length <= packet.Length ? length : -1;
            default:
                return -1;
        }
    }

    /// <summary>The IPv4 header length from the IHL field (only meaningful for an IPv4 packet of at least one byte).</summary>
    public static int Ipv4HeaderLengthOf(ReadOnlySpan<byte> packet) => (packet[0] & 0x0f) * 4;

    /// <summary>Recomputes the IPv4 header checksum of <paramref name="packet"/> in place.</summary>
    public static void SetIpv4HeaderChecksum(Span<byte> packet)
    {
        var header = packet[..Ipv4HeaderLengthOf(packet)];
        header[10] = 0;
        header[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], (ushort)~InternetChecksum.Fold(InternetChecksum.Add(header, 0)));
    }
}
