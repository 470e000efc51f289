using System.Text;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

public sealed class HandshakeTests
{
    [Fact]
    public void WriteHello_KnownAddress_MatchesTheDocumentedTestVector()
    {
        var address = RouterAddress.Read(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var hello = new byte[Handshake.HelloSize];

        Handshake.WriteHello(hello, address, 131072);

        // The same vector is in netmods/inet/README.md.
        Assert.Equal(
            "52545249" + "0001" + "0000"
            + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            + "00020000",
            Convert.ToHexStringLower(hello));
    }

    [Fact]
    public void TryParse_WrittenHello_RoundTrips()
    {
        var address = NetmodTestContext.RandomAddress();
        var bytes = RawPeer.Hello(address, 65536);

        Assert.Equal(HelloStatus.Valid, Handshake.TryParse(bytes, out var hello));
        Assert.Equal(address, hello.Address);
        Assert.Equal(65536u, hello.MaxFrameSize);
        Assert.Equal(Handshake.ProtocolVersion, hello.Version);
    }

    [Fact]
    public void TryParse_EveryTruncatedHello_IsIncomplete()
    {
        var bytes = RawPeer.Hello(NetmodTestContext.RandomAddress());
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(HelloStatus.Incomplete, Handshake.TryParse(bytes.AsSpan(0, length), out _));
        }
    }

    [Fact]
    public void TryParse_WrongFirstByte_IsBadMagicWithoutWaitingForMore()
    {
        Assert.Equal(HelloStatus.BadMagic, Handshake.TryParse("G"u8, out _));
        Assert.Equal(HelloStatus.BadMagic, Handshake.TryParse("RTRX"u8, out _));
    }

    [Fact]
    public void TryParse_HttpRequest_IsBadMagic()
    {
        var request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: router\r\n\r\n");

        Assert.Equal(HelloStatus.BadMagic, Handshake.TryParse(request, out _));
    }

    [Fact]
    public void TryParse_Version2_IsUnsupportedAfterEightBytesAndNamesTheVersion()
    {
        var bytes = RawPeer.Hello(NetmodTestContext.RandomAddress(), version: 2);

        Assert.Equal(HelloStatus.UnsupportedVersion, Handshake.TryParse(bytes.AsSpan(0, 8), out var hello));
        Assert.Equal(2, hello.Version);
    }

    [Fact]
    public void TryParse_ZeroAddress_IsInvalid()
    {
        Assert.Equal(HelloStatus.Invalid, Handshake.TryParse(RawPeer.Hello(RouterAddress.None), out _));
    }

    [Fact]
    public void TryParse_MaxFrameSizeBelowMinimum_IsInvalid()
    {
        Assert.Equal(HelloStatus.Invalid, Handshake.TryParse(RawPeer.Hello(NetmodTestContext.RandomAddress(), maxFrameSize: 1023), out _));
    }

    [Fact]
    public void TryParse_SeededRandomInput_NeverThrows()
    {
        var random = new Random(1234);
        var counts = new Dictionary<HelloStatus, int>();
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (random.Next(3) == 0)
            {
                // Mostly valid prefixes, so every later branch is reached as well.
                Handshake.Magic[..Math.Min(4, bytes.Length)].CopyTo(bytes);
                if (bytes.Length >= 6 && random.Next(2) == 0)
                {
                    bytes[4] = 0;
                    bytes[5] = 1;
                }

                if (bytes.Length >= Handshake.HelloSize && random.Next(4) == 0)
                {
                    bytes.AsSpan(40, 4).Clear();
                }
            }

            var status = Handshake.TryParse(bytes, out _);
            counts[status] = counts.GetValueOrDefault(status) + 1;
        }

        foreach (var status in Enum.GetValues<HelloStatus>())
        {
            Assert.True(counts.GetValueOrDefault(status) > 0, $"random input never produced {status}");
        }
    }
}
