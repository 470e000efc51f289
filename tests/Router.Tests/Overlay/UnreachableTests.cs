using System.Buffers.Binary;
using System.Net;
using Router.Overlay;
using Router.Sdk;

namespace Router.Tests.Overlay;

/// <summary>The ICMPv6 "no route" error written back for packets to overlay addresses nobody has (RFC 4443).</summary>
public sealed class UnreachableTests
{
    private static readonly byte[] Router = IPAddress.Parse("fd6d:1:2:3:4:5:6:7").GetAddressBytes();
    private static readonly IPAddress Sender = IPAddress.Parse("fd6d:aaaa::1");
    private static readonly IPAddress Nobody = IPAddress.Parse("fd6d:dead::1");

    [Fact]
    public void NoRoute_IsAnIcmpV6Error_FromTheRouter_ToTheSender_QuotingThePacket_WithAValidChecksum()
    {
        var packet = MemoryIpInterface.IPv6(Sender, Nobody, new byte[100]);
        var frame = new byte[Unreachable.MaxFrame];

        var length = Unreachable.TryWriteNoRoute(packet, Router, frame);

        Assert.Equal(VirtioNetHeader.Size + 40 + 8 + packet.Length, length);
        Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(frame));
        var ip = frame.AsSpan(VirtioNetHeader.Size, length - VirtioNetHeader.Size);
        Assert.Equal(0x60, ip[0]);
        Assert.Equal(8 + packet.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[4..]));
        Assert.Equal(58, ip[6]);
        Assert.Equal(Router, ip.Slice(8, 16).ToArray());
        Assert.Equal(Sender.GetAddressBytes(), ip.Slice(24, 16).ToArray());
        Assert.Equal(1, ip[40]);
        Assert.Equal(0, ip[41]);
        Assert.Equal(packet, ip[48..].ToArray());
        Assert.Equal(0xffff, OnesComplementSum(ip));
    }

    [Fact]
    public void LongPacket_IsQuotedOnlyUpTo1280BytesInAll()
    {
        var packet = MemoryIpInterface.IPv6(Sender, Nobody, new byte[3000]);
        var frame = new byte[Unreachable.MaxFrame];

        var length = Unreachable.TryWriteNoRoute(packet, Router, frame);

        Assert.Equal(VirtioNetHeader.Size + 1280, length);
        Assert.Equal(packet.AsSpan(0, 1280 - 48).ToArray(), frame.AsSpan(VirtioNetHeader.Size + 48, 1280 - 48).ToArray());
        Assert.Equal(0xffff, OnesComplementSum(frame.AsSpan(VirtioNetHeader.Size, 1280)));
    }

    [Theory]
    [InlineData("::", "no error to an unspecified source")]
    [InlineData("ff02::1", "no error to a multicast source")]
    public void NoErrorIsSentTo(string source, string why)
    {
        var frame = new byte[Unreachable.MaxFrame];
        Assert.True(Unreachable.TryWriteNoRoute(MemoryIpInterface.IPv6(IPAddress.Parse(source), Nobody, new byte[8]), Router, frame) == 0, why);
    }

    [Fact]
    public void AnIcmpV6Error_IsNeverAnsweredWithAnother_ButAnEchoRequestIs()
    {
        var frame = new byte[Unreachable.MaxFrame];
        var error = MemoryIpInterface.IPv6(Sender, Nobody, [1, 0, 0, 0, 0, 0, 0, 0]);
        error[6] = 58;
        Assert.Equal(0, Unreachable.TryWriteNoRoute(error, Router, frame));

        var echo = MemoryIpInterface.IPv6(Sender, Nobody, [128, 0, 0, 0, 0, 0, 0, 0]);
        echo[6] = 58;
        Assert.True(Unreachable.TryWriteNoRoute(echo, Router, frame) > 0);
    }

    [Fact]
    public void TruncatedOrIPv4Packets_GetNoError()
    {
        var frame = new byte[Unreachable.MaxFrame];
        Assert.Equal(0, Unreachable.TryWriteNoRoute(new byte[39], Router, frame));
        Assert.Equal(0, Unreachable.TryWriteNoRoute(MemoryIpInterface.IPv4(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2"), new byte[30]), Router, frame));
    }

    /// <summary>The ones' complement sum of the pseudo-header and the ICMPv6 message, written out independently: 0xffff when the checksum is right.</summary>
    private static int OnesComplementSum(ReadOnlySpan<byte> ip)
    {
        var length = ip.Length - 40;
        var words = new List<int>();
        for (var i = 8; i < 40; i += 2)
        {
            words.Add((ip[i] << 8) | ip[i + 1]);
        }

        words.Add(length >> 16);
        words.Add(length & 0xffff);
        words.Add(58);
        for (var i = 40; i < ip.Length; i += 2)
        {
            words.Add((ip[i] << 8) | (i + 1 < ip.Length ? ip[i + 1] : 0));
        }

        var sum = 0L;
        foreach (var word in words)
        {
            sum += word;
        }

        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (int)sum;
    }
}
