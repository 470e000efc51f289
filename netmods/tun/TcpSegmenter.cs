using System.Buffers.Binary;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>
/// Cuts a TCP GSO super-packet (<see cref="VirtioNetHeader.GsoTcpV4"/> or
/// <see cref="VirtioNetHeader.GsoTcpV6"/>, ECN or not) into the TCP segments the sender's kernel
/// would have sent, for a device that cannot take the super-packet whole: each segment carries
/// a copy of the IP and TCP headers and the next <see cref="VirtioNetHeader.GsoSize"/> payload
/// bytes, with the IPv4 total length, identification (one more per segment) and header
/// checksum, or the IPv6 payload length, set for it; its TCP sequence number advanced by the
/// payload before it; FIN and PSH only on the last segment and CWR only on the first (as
/// Linux's tcp_gso_segment does); and a complete TCP checksum.
/// </summary>
/// <remarks>
/// <see cref="TryCreate"/> checks everything the segments depend on and names what is wrong,
/// so <see cref="WriteNext"/> never fails; nothing throws, whatever the bytes. TCP must follow
/// the IP header directly (IPv4 options are fine, IPv6 extension headers are not), which is
/// how Linux sends it. A stack-only type: it holds the packet span, allocates nothing.
/// </remarks>
internal ref struct TcpSegmenter
{
    private const int TcpHeaderLength = 20;
    private const int TcpChecksumOffset = 16;
    private const byte Fin = 0x01;
    private const byte Psh = 0x08;
    private const byte Cwr = 0x80;

    private readonly ReadOnlySpan<byte> _packet;
    private readonly bool _ipv4;
    private readonly int _transport;
    private readonly int _headers;
    private readonly int _segmentSize;
    private readonly uint _sequence;
    private readonly ushort _identification;
    private int _index;

    private TcpSegmenter(ReadOnlySpan<byte> packet, bool ipv4, int transport, int headers, int segmentSize)
    {
        _packet = packet;
        _ipv4 = ipv4;
        _transport = transport;
        _headers = headers;
        _segmentSize = segmentSize;
        _sequence = BinaryPrimitives.ReadUInt32BigEndian(packet[(transport + 4)..]);
        _identification = ipv4 ? BinaryPrimitives.ReadUInt16BigEndian(packet[4..]) : (ushort)0;
        var payload = packet.Length - headers;
        Count = Math.Max(1, (payload + segmentSize - 1) / segmentSize);
    }

    /// <summary>Number of segments the super-packet makes.</summary>
    public int Count { get; }

    /// <summary>
    /// Checks <paramref name="packet"/> (the IP packet after the virtio header) against
    /// <paramref name="header"/>. Returns null and a segmenter when both are usable, otherwise
    /// what is wrong, for counting and logging.
    /// </summary>
    public static string? TryCreate(ReadOnlySpan<byte> packet, VirtioNetHeader header, out TcpSegmenter segmenter)
    {
        segmenter = default;
        var gsoType = header.GsoType & ~VirtioNetHeader.GsoEcn;
        if (gsoType is not (VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6))
        {
            return "GSO type other than TCP";
        }

        if (header.GsoSize == 0)
        {
            return "GSO segment size 0";
        }

        var ipv4 = gsoType == VirtioNetHeader.GsoTcpV4;
        if (IpPacket.Version(packet) != (ipv4 ? 4 : 6))
        {
            return "GSO type does not match the IP version";
        }

        var length = IpPacket.Length(packet);
        if (length < 0)
        {
            return "truncated or inconsistent IP header";
        }

        packet = packet[..length];
        int transport;
        if (ipv4)
        {
            transport = IpPacket.Ipv4HeaderLengthOf(packet);
            if ((BinaryPrimitives.ReadUInt16BigEndian(packet[6..]) & 0x3fff) != 0)
            {
                return "GSO packet is an IPv4 fragment";
            }

            if (packet[9] != IpPacket.Tcp)
            {
                return "GSO packet does not carry TCP";
            }
        }
        else
        {
            transport = IpPacket.Ipv6HeaderLength;
            if (packet[6] != IpPacket.Tcp)
            {
                return "GSO packet does not carry TCP right after the IPv6 header";
            }
        }

        if (packet.Length < transport + TcpHeaderLength)
        {
            return "truncated TCP header";
        }

        var tcpHeaderLength = (packet[transport + 12] >> 4) * 4;
        if (tcpHeaderLength < TcpHeaderLength || transport + tcpHeaderLength > packet.Length)
        {
            return "impossible TCP header length";
        }

        if (header.NeedsChecksum && (header.ChecksumStart != transport || header.ChecksumOffset != TcpChecksumOffset))
        {
            return "checksum position is not the TCP checksum";
        }

        segmenter = new TcpSegmenter(packet, ipv4, transport, transport + tcpHeaderLength, header.GsoSize);
        return null;
    }

    /// <summary>
    /// Writes the next segment to the start of <paramref name="destination"/> (which must hold
    /// the whole super-packet, so any segment fits) and returns its length, or returns false
    /// after the last.
    /// </summary>
    public bool WriteNext(Span<byte> destination, out int length)
    {
        if (_index >= Count)
        {
            length = 0;
            return false;
        }

        var payloadStart = _index * _segmentSize;
        var payloadLength = Math.Min(_segmentSize, _packet.Length - _headers - payloadStart);
        length = _headers + payloadLength;
        var segment = destination[..length];
        _packet[.._headers].CopyTo(segment);
        _packet.Slice(_headers + payloadStart, payloadLength).CopyTo(segment[_headers..]);

        if (_ipv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)length);
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(_identification + _index));
            IpPacket.SetIpv4HeaderChecksum(segment);
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], (ushort)(length - IpPacket.Ipv6HeaderLength));
        }

        var tcp = segment[_transport..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], unchecked(_sequence + (uint)payloadStart));
        if (_index < Count - 1)
        {
            tcp[13] &= unchecked((byte)~(Fin | Psh));
        }

        if (_index > 0)
        {
            tcp[13] &= unchecked((byte)~Cwr);
        }

        tcp[TcpChecksumOffset] = 0;
        tcp[TcpChecksumOffset + 1] = 0;
        var family = _ipv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        var sum = InternetChecksum.AddPseudoHeader(segment, family, IpPacket.Tcp, tcp.Length, 0);
        sum = InternetChecksum.Add(tcp, sum);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpChecksumOffset..], InternetChecksum.Finish(sum));
        _index++;
        return true;
    }
}
