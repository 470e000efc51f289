using System.Buffers.Binary;
using System.Net;
using Router.Sdk;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// The Internet checksum written the plain way, word by word, independently of the netmod's
/// <c>InternetChecksum</c>, so the tests do not check the code with itself.
/// </summary>
internal static class ReferenceChecksum
{
    /// <summary>The ones'-complement sum of the big-endian 16-bit words of <paramref name="data"/> (odd byte padded), folded, not complemented.</summary>
    public static ushort Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        var sum = initial;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += (uint)((data[i] << 8) | data[i + 1]);
            sum = (sum & 0xffff) + (sum >> 16);
        }

        if (data.Length % 2 == 1)
        {
            sum += (uint)(data[^1] << 8);
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)sum;
    }

    /// <summary>The pseudo-header sum of an IP packet for its transport protocol and <paramref name="transportLength"/>.</summary>
    public static ushort PseudoHeader(ReadOnlySpan<byte> packet, byte protocol, int transportLength)
    {
        var pseudo = new List<byte>();
        if (packet[0] >> 4 == 4)
        {
            pseudo.AddRange(packet.Slice(12, 8).ToArray());
            pseudo.AddRange([0, protocol, (byte)(transportLength >> 8), (byte)transportLength]);
        }
        else
        {
            pseudo.AddRange(packet.Slice(8, 32).ToArray());
            pseudo.AddRange([(byte)(transportLength >> 24), (byte)(transportLength >> 16), (byte)(transportLength >> 8), (byte)transportLength, 0, 0, 0, protocol]);
        }

        return Sum(pseudo.ToArray());
    }

    /// <summary>Whether an IPv4 header's checksum verifies (the sum over the header is 0xffff).</summary>
    public static bool Ipv4HeaderVerifies(ReadOnlySpan<byte> packet) => Sum(packet[..((packet[0] & 0xf) * 4)]) == 0xffff;

    /// <summary>Whether the TCP, UDP or ICMPv6 checksum of a whole IP packet verifies, pseudo-header included.</summary>
    public static bool TransportVerifies(ReadOnlySpan<byte> packet)
    {
        var (transport, protocol, length) = Transport(packet);
        var sum = Sum(packet[transport..length], PseudoHeader(packet, protocol, length - transport));
        return sum == 0xffff;
    }

    /// <summary>Where the transport header starts, its protocol, and the IP length of the packet (no extension headers).</summary>
    public static (int Offset, byte Protocol, int Length) Transport(ReadOnlySpan<byte> packet) => packet[0] >> 4 == 4
        ? ((packet[0] & 0xf) * 4, packet[9], BinaryPrimitives.ReadUInt16BigEndian(packet[2..]))
        : (40, packet[6], 40 + BinaryPrimitives.ReadUInt16BigEndian(packet[4..]));
}

/// <summary>Builds IPv4 and IPv6 packets with TCP, UDP and ICMP, and frames around them.</summary>
internal static class Packets
{
    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Psh = 0x08;
    public const byte Ack = 0x10;
    public const byte Ece = 0x40;
    public const byte Cwr = 0x80;

    public static readonly IPAddress Source4 = IPAddress.Parse("10.1.2.3");
    public static readonly IPAddress Destination4 = IPAddress.Parse("192.0.2.77");
    public static readonly IPAddress Source6 = IPAddress.Parse("fd6d:1111:2222::3");
    public static readonly IPAddress Destination6 = IPAddress.Parse("2001:db8:aa::77");

    /// <summary>A TCP packet with complete, correct checksums; <paramref name="tcpOptions"/> bytes of NOP options.</summary>
    public static byte[] Tcp(bool ipv4, uint sequence, byte flags, ReadOnlySpan<byte> payload, ushort identification = 0x1234, int tcpOptions = 12)
    {
        var tcpLength = 20 + tcpOptions + payload.Length;
        var packet = IpHeader(ipv4, 6, tcpLength, identification);
        var tcp = packet.AsSpan(packet.Length - tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5201);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 0xa0b0c0d0);
        tcp[12] = (byte)(((20 + tcpOptions) / 4) << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65000);
        tcp.Slice(20, tcpOptions).Fill(1);
        payload.CopyTo(tcp[(20 + tcpOptions)..]);
        SetTransportChecksum(packet, 16);
        return packet;
    }

    /// <summary>A UDP packet with a complete, correct checksum.</summary>
    public static byte[] Udp(bool ipv4, ReadOnlySpan<byte> payload, IPAddress? source = null, IPAddress? destination = null)
    {
        var udpLength = 8 + payload.Length;
        var packet = IpHeader(ipv4, 17, udpLength, 7, source, destination);
        var udp = packet.AsSpan(packet.Length - udpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, 53000);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9999);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLength);
        payload.CopyTo(udp[8..]);
        SetTransportChecksum(packet, 6);
        return packet;
    }

    /// <summary>An ICMP echo request from <paramref name="source"/> to <paramref name="destination"/> carrying <paramref name="sequence"/>, checksums complete.</summary>
    public static byte[] EchoRequest(IPAddress source, IPAddress destination, ushort sequence)
    {
        var packet = IpHeader(ipv4: true, 1, 8 + 32, sequence, source, destination);
        var icmp = packet.AsSpan(20);
        icmp[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], 0x5254);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~ReferenceChecksum.Sum(icmp));
        return packet;
    }

    /// <summary>
    /// The packet as a sending kernel hands it over with CHECKSUM_PARTIAL: the transport
    /// checksum field holds the folded pseudo-header sum (not complemented).
    /// </summary>
    public static byte[] WithPartialChecksum(byte[] packet, int checksumOffset)
    {
        var copy = (byte[])packet.Clone();
        var (transport, protocol, length) = ReferenceChecksum.Transport(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(transport + checksumOffset), ReferenceChecksum.PseudoHeader(copy, protocol, length - transport));
        return copy;
    }

    /// <summary>A TCP GSO super-packet in the form a Linux kernel reads it out of a TUN device with offloads.</summary>
    public static byte[] SuperPacket(bool ipv4, uint sequence, byte flags, ReadOnlySpan<byte> payload, ushort segmentSize, bool ecn = false, int tcpOptions = 12)
    {
        var packet = WithPartialChecksum(Tcp(ipv4, sequence, flags, payload, tcpOptions: tcpOptions), 16);
        var transport = ipv4 ? 20 : 40;
        var gsoType = (byte)((ipv4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6) | (ecn ? VirtioNetHeader.GsoEcn : 0));
        var header = new VirtioNetHeader(VirtioNetHeader.FlagNeedsChecksum, gsoType, (ushort)(transport + 20 + tcpOptions), segmentSize, (ushort)transport, 16);
        return Frame(header, packet);
    }

    public static byte[] Frame(VirtioNetHeader header, ReadOnlySpan<byte> packet)
    {
        var frame = new byte[VirtioNetHeader.Size + packet.Length];
        header.Write(frame);
        packet.CopyTo(frame.AsSpan(VirtioNetHeader.Size));
        return frame;
    }

    /// <summary>
    /// The echo reply to an ICMP or ICMPv6 echo request: addresses swapped, type changed,
    /// checksum recomputed (with the pseudo-header for ICMPv6).
    /// </summary>
    public static byte[] EchoReply(ReadOnlySpan<byte> request)
    {
        var reply = request.ToArray();
        var (transport, _, length) = ReferenceChecksum.Transport(reply);
        var ipv4 = reply[0] >> 4 == 4;
        var (source, destination, size) = ipv4 ? (12, 16, 4) : (8, 24, 16);
        var from = reply.AsSpan(source, size).ToArray();
        reply.AsSpan(destination, size).CopyTo(reply.AsSpan(source));
        from.CopyTo(reply.AsSpan(destination));
        reply[transport] = (byte)(ipv4 ? 0 : 129);
        reply[transport + 2] = 0;
        reply[transport + 3] = 0;
        var sum = ipv4
            ? ReferenceChecksum.Sum(reply.AsSpan(transport, length - transport))
            : ReferenceChecksum.Sum(reply.AsSpan(transport, length - transport), ReferenceChecksum.PseudoHeader(reply, 58, length - transport));
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(transport + 2), (ushort)~sum);
        if (ipv4)
        {
            reply[10] = 0;
            reply[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(10), (ushort)~ReferenceChecksum.Sum(reply.AsSpan(0, 20)));
        }

        return reply;
    }

    private static byte[] IpHeader(bool ipv4, byte protocol, int transportLength, ushort identification, IPAddress? source = null, IPAddress? destination = null)
    {
        if (ipv4)
        {
            var packet = new byte[20 + transportLength];
            packet[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), identification);
            packet[6] = 0x40; // DF
            packet[8] = 64;
            packet[9] = protocol;
            (source ?? Source4).TryWriteBytes(packet.AsSpan(12), out _);
            (destination ?? Destination4).TryWriteBytes(packet.AsSpan(16), out _);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(10), (ushort)~ReferenceChecksum.Sum(packet.AsSpan(0, 20)));
            return packet;
        }

        var v6 = new byte[40 + transportLength];
        v6[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(v6.AsSpan(4), (ushort)transportLength);
        v6[6] = protocol;
        v6[7] = 64;
        (source ?? Source6).TryWriteBytes(v6.AsSpan(8), out _);
        (destination ?? Destination6).TryWriteBytes(v6.AsSpan(24), out _);
        return v6;
    }

    private static void SetTransportChecksum(byte[] packet, int checksumOffset)
    {
        var (transport, protocol, length) = ReferenceChecksum.Transport(packet);
        var field = packet.AsSpan(transport + checksumOffset, 2);
        field.Clear();
        var sum = ReferenceChecksum.Sum(packet.AsSpan(transport, length - transport), ReferenceChecksum.PseudoHeader(packet, protocol, length - transport));
        var value = (ushort)~sum;
        BinaryPrimitives.WriteUInt16BigEndian(field, value == 0 ? (ushort)0xffff : value);
    }
}
