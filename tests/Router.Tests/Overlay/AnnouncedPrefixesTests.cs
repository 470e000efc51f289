using System.Net;
using Router.Routing;

namespace Router.Tests.Overlay;

/// <summary>The signed prefix block (<see cref="AnnouncedPrefixes"/>): one canonical encoding per set of prefixes.</summary>
public sealed class AnnouncedPrefixesTests
{
    private static IPNetwork P(string text) => IPNetwork.Parse(text);

    private static IPNetwork[] Set(params string[] prefixes) => [.. prefixes.Select(P)];

    private static byte[] Encode(params string[] prefixes)
    {
        var block = AnnouncedPrefixes.TryEncode(Set(prefixes), out var problem);
        Assert.Null(problem);
        Assert.NotNull(block);
        return block;
    }

    private static List<IPNetwork> Decode(byte[] block)
    {
        var prefixes = new List<IPNetwork>();
        Assert.True(AnnouncedPrefixes.TryDecode(block, prefixes), $"rejected {Convert.ToHexString(block)}");
        return prefixes;
    }

    private static void AssertRejected(string hex)
    {
        var prefixes = new List<IPNetwork> { P("192.0.2.0/24") }; // cleared on failure too
        Assert.False(AnnouncedPrefixes.TryDecode(Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal)), prefixes), $"accepted {hex}");
        Assert.Empty(prefixes);
    }

    [Fact]
    public void Encode_KnownSet_MatchesTheWireFormatByteForByte()
    {
        // count 2 | family 4, /24, 3 bytes 10.66.1 | family 6, /32, 4 bytes fd00:0001
        var expected = Convert.FromHexString("02" + "04180A4201" + "0620FD000001");

        Assert.Equal(expected, Encode("fd00:1::/32", "10.66.1.0/24")); // given out of order on purpose
        Assert.Equal(Set("10.66.1.0/24", "fd00:1::/32"), Decode(expected));
    }

    [Theory]
    [InlineData("10.66.1.0/24")]
    [InlineData("10.0.0.0/8")]
    [InlineData("192.0.2.1/32")]
    [InlineData("0.0.0.0/0")]
    [InlineData("172.16.0.0/12")]
    [InlineData("fd00:66::/64")]
    [InlineData("2001:db8::1/128")]
    [InlineData("::/0")]
    [InlineData("2001:db8:8000::/33")]
    [InlineData("10.66.1.0/24", "10.66.0.0/16", "10.0.0.0/8", "0.0.0.0/0", "fd00::/8", "2001:db8::/32")]
    [InlineData("255.255.255.255/32", "0.0.0.0/0", "::/0", "ffff::/16")]
    public void RoundTrip_GivesTheSamePrefixesInCanonicalOrder(params string[] prefixes)
    {
        var block = Encode(prefixes);

        Assert.Equal(1 + prefixes.Sum(p => AnnouncedPrefixes.EncodedLength(P(p))), block.Length);
        Assert.Equal(prefixes.Length, block[0]);
        Assert.Equal(AnnouncedPrefixes.Canonical(Set(prefixes)), Decode(block));
        Assert.Equal(block, Encode([.. Decode(block).Select(p => p.ToString())]));
    }

    [Fact]
    public void Encode_Lengths_UseWholeBytesForTheNetworkPartOnly()
    {
        Assert.Equal(Convert.FromHexString("01" + "0400"), Encode("0.0.0.0/0"));
        Assert.Equal(Convert.FromHexString("01" + "0600"), Encode("::/0"));
        Assert.Equal(Convert.FromHexString("01" + "0420C0000201"), Encode("192.0.2.1/32"));
        Assert.Equal(Convert.FromHexString("01" + "040C" + "AC10"), Encode("172.16.0.0/12"));
        Assert.Equal(Convert.FromHexString("01" + "0680" + "20010DB8000000000000000000000001"), Encode("2001:db8::1/128"));
        Assert.Equal(Convert.FromHexString("01" + "0621" + "20010DB880"), Encode("2001:db8:8000::/33"));
    }

    [Fact]
    public void Encode_Empty_IsTheZeroCount()
    {
        Assert.Equal(OriginProof.NoPrefixes.ToArray(), Encode());
        Assert.Empty(Decode([0]));
    }

    [Fact]
    public void Encode_SortsIPv4FirstThenByAddressThenLength()
    {
        var shuffled = Set("fd00::/8", "10.66.1.0/24", "::/0", "10.0.0.0/16", "10.0.0.0/8", "9.255.0.0/16", "2001:db8::/32", "0.0.0.0/0");

        var decoded = Decode(AnnouncedPrefixes.TryEncode(shuffled, out _)!);

        Assert.Equal(Set("0.0.0.0/0", "9.255.0.0/16", "10.0.0.0/8", "10.0.0.0/16", "10.66.1.0/24", "::/0", "2001:db8::/32", "fd00::/8"), decoded);
    }

    [Fact]
    public void Encode_OrderOfTheInput_DoesNotChangeTheBytes()
    {
        var prefixes = Set("10.66.1.0/24", "10.66.0.0/16", "fd00:1::/32", "192.168.0.0/16", "2001:db8::/48");
        var random = new Random(5);
        var first = AnnouncedPrefixes.TryEncode(prefixes, out _);

        for (var i = 0; i < 20; i++)
        {
            var shuffled = prefixes.ToArray();
            random.Shuffle(shuffled);
            Assert.Equal(first, AnnouncedPrefixes.TryEncode(shuffled, out _));
        }
    }

    [Fact]
    public void Encode_Duplicates_AreListedOnce()
    {
        Assert.Equal(Encode("10.66.1.0/24", "fd00:1::/32"), Encode("fd00:1::/32", "10.66.1.0/24", "10.66.1.0/24", "fd00:1::/32", "10.66.1.0/24"));
    }

    [Fact]
    public void Encode_SameAddressDifferentLengths_AreDifferentPrefixes()
    {
        Assert.Equal(Set("10.0.0.0/8", "10.0.0.0/16"), Decode(Encode("10.0.0.0/16", "10.0.0.0/8")));
    }

    [Fact]
    public void Encode_AddressWithHostBits_IsAnnouncedAsItsNetwork()
    {
        // IPNetwork (since .NET 9) clears host bits when it is constructed, so TryEncode never
        // sees a prefix with host bits: 10.66.1.7/24 is 10.66.1.0/24 before it gets here. The
        // host-bit check in TryEncode can never fire; callers that want to reject host bits
        // (TunOptions does) must look at the address before building the IPNetwork.
        var prefix = new IPNetwork(IPAddress.Parse("10.66.1.7"), 24);

        var block = AnnouncedPrefixes.TryEncode([prefix], out var problem);

        Assert.Null(problem);
        Assert.Equal(Encode("10.66.1.0/24"), block);
    }

    [Fact]
    public void Encode_MoreThanFitsARouteEntry_IsRefusedWithTheSize()
    {
        // Three /128s take 1 + 3 × 18 = 55 bytes; a fourth makes 73.
        var prefixes = Set("2001:db8::1/128", "2001:db8::2/128", "2001:db8::3/128", "2001:db8::4/128");

        var block = AnnouncedPrefixes.TryEncode(prefixes, out var problem);

        Assert.Null(block);
        Assert.NotNull(problem);
        Assert.Contains("73 bytes", problem, StringComparison.Ordinal);
        Assert.Contains(OriginProof.MaxPrefixBlockLength.ToString(System.Globalization.CultureInfo.InvariantCulture), problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_ExactlyTheLimit_IsAccepted()
    {
        // 1 + 3 × 18 (/128) + 9 (/56) = 64 bytes.
        Assert.Equal(64, OriginProof.MaxPrefixBlockLength);
        var prefixes = Set("2001:db8::1/128", "2001:db8::2/128", "2001:db8::3/128", "2001:db8:1::/56");

        var block = AnnouncedPrefixes.TryEncode(prefixes, out var problem);

        Assert.Null(problem);
        Assert.Equal(OriginProof.MaxPrefixBlockLength, block!.Length);
        Assert.Equal(AnnouncedPrefixes.Canonical(prefixes), Decode(block));
        Assert.Null(AnnouncedPrefixes.TryEncode([.. prefixes, P("10.0.0.0/8")], out problem));
        Assert.Contains("67 bytes", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Encode_ManyDuplicates_CountOnlyOnceTowardsTheLimit()
    {
        var prefixes = Enumerable.Repeat(P("2001:db8::1/128"), 300);

        Assert.Equal(Encode("2001:db8::1/128"), AnnouncedPrefixes.TryEncode(prefixes, out _));
    }

    [Theory]
    [InlineData("", "empty block")]
    [InlineData("01", "count 1, nothing follows")]
    [InlineData("01 04", "length missing")]
    [InlineData("01 0418 0A42", "address truncated")]
    [InlineData("01 0680 20010DB8", "IPv6 address truncated")]
    [InlineData("02 0418 0A4201", "count 2, one prefix")]
    [InlineData("01 0418 0A4201 0418 0A4202", "count 1, two prefixes")]
    [InlineData("01 0418 0A4201 00", "trailing byte")]
    [InlineData("00 00", "count 0 with a trailing byte")]
    [InlineData("01 0500", "family 5")]
    [InlineData("01 0000", "family 0")]
    [InlineData("01 0200", "family 2 (AF_INET)")]
    [InlineData("01 0A00", "family 10 (AF_INET6)")]
    [InlineData("01 0421 0A4201FF00", "IPv4 /33")]
    [InlineData("01 04FF 0A4201FF", "IPv4 /255")]
    [InlineData("01 0681 20010DB8000000000000000000000001 00", "IPv6 /129")]
    [InlineData("01 0417 0A4201", "IPv4 /23 with bit 24 set")]
    [InlineData("01 040C AC11", "IPv4 /12 with bit 16 set")]
    [InlineData("01 0401 C0", "IPv4 /1 with bit 2 set")]
    [InlineData("01 0621 20010DB8C0", "IPv6 /33 with bit 34 set")]
    [InlineData("01 067F 20010DB8000000000000000000000001", "IPv6 /127 with the last bit set")]
    [InlineData("02 0418 0A4202 0418 0A4201", "IPv4 out of order")]
    [InlineData("02 0610 FD00 0418 0A4201", "IPv6 before IPv4")]
    [InlineData("02 0410 0A00 0408 0A", "same address, longer first")]
    [InlineData("02 0418 0A4201 0418 0A4201", "duplicate")]
    [InlineData("02 0620 FD000001 0620 FD000001", "IPv6 duplicate")]
    public void Decode_NonCanonicalBlock_IsRejected(string hex, string why)
    {
        _ = why;
        AssertRejected(hex);
    }

    [Fact]
    public void Decode_EveryTruncationOfAValidBlock_IsRejected()
    {
        var block = Encode("10.66.1.0/24", "192.168.0.0/16", "fd00:1::/32", "2001:db8::1/128");

        for (var length = 0; length < block.Length; length++)
        {
            AssertRejected(Convert.ToHexString(block, 0, length));
        }
    }

    [Fact]
    public void Decode_ClearsTheListFirst()
    {
        var prefixes = new List<IPNetwork> { P("192.0.2.0/24") };

        Assert.True(AnnouncedPrefixes.TryDecode(Encode("10.66.1.0/24"), prefixes));

        Assert.Equal(Set("10.66.1.0/24"), prefixes);
    }

    [Fact]
    public void Decode_RandomBlocks_NeverThrowAndWhatItAcceptsReEncodesToTheSameBytes()
    {
        var random = new Random(20240517);
        var prefixes = new List<IPNetwork>();
        var accepted = 0;

        for (var i = 0; i < 50_000; i++)
        {
            var block = i % 2 == 0 ? RandomBytes(random) : Mutate(random, RandomValidBlock(random));
            if (AnnouncedPrefixes.TryDecode(block, prefixes))
            {
                accepted++;
                var again = AnnouncedPrefixes.TryEncode(prefixes, out var problem);
                Assert.True(again is not null, $"{Convert.ToHexString(block)} decoded but does not encode: {problem}");
                Assert.Equal(Convert.ToHexString(block), Convert.ToHexString(again));
            }
            else
            {
                Assert.Empty(prefixes);
            }
        }

        Assert.True(accepted > 1_000, $"only {accepted} random blocks were valid; the generator should make more");
    }

    private static byte[] RandomBytes(Random random)
    {
        var block = new byte[random.Next(0, OriginProof.MaxPrefixBlockLength + 1)];
        random.NextBytes(block);
        if (block.Length > 0)
        {
            block[0] = (byte)random.Next(0, 4); // small counts, or almost nothing would get past the first prefix
        }

        for (var i = 1; i + 1 < block.Length; i += 6)
        {
            block[i] = random.Next(3) == 0 ? (byte)6 : (byte)4;
        }

        return block;
    }

    private static byte[] RandomValidBlock(Random random)
    {
        var set = new List<IPNetwork>();
        var count = random.Next(0, 5);
        for (var i = 0; i < count; i++)
        {
            var v4 = random.Next(2) == 0;
            var bytes = new byte[v4 ? 4 : 16];
            random.NextBytes(bytes);
            var length = random.Next(0, (bytes.Length * 8) + 1);
            if (!v4 && length > 64)
            {
                length = random.Next(0, 65); // keep IPv6 prefixes short so several fit
            }

            set.Add(new IPNetwork(new IPAddress(bytes), length)); // masks the host bits
        }

        return AnnouncedPrefixes.TryEncode(set, out _) ?? [0];
    }

    private static byte[] Mutate(Random random, byte[] block)
    {
        switch (random.Next(5))
        {
            case 0:
                return block; // valid as is
            case 1:
                block[random.Next(block.Length)] ^= (byte)(1 << random.Next(8));
                return block;
            case 2:
                return block[..random.Next(block.Length)];
            case 3:
                return [.. block, (byte)random.Next(256)];
            default:
                block[0] = (byte)random.Next(256);
                return block;
        }
    }
}
