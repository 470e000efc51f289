using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>The datagram formats: exact bytes, round trips, and parsers under hostile input.</summary>
public sealed class WireTests
{
    private const int FuzzIterations = 120_000;

    private static readonly RouterAddress Sample = RouterAddress.Parse(
        "00112233-44556677-8899aabb-ccddeeff-00112233-44556677-8899aabb-ccddeeff");

    [Fact]
    public void WriteHello_SampleAddress_MatchesTheDocumentedBytes()
    {
        var bytes = new byte[Wire.HelloSize];

        var length = Wire.WriteHello(bytes, DatagramType.Hello, Sample, 1400);

        // The test vector in README.md ("udp link protocol").
        Assert.Equal(45, length);
        Assert.Equal(
            "03" + "52545255" + "0001" + "0000"
            + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            + "00000578",
            Convert.ToHexStringLower(bytes));
    }

    [Fact]
    public void WriteBeacon_SampleAddress_MatchesTheDocumentedBytes()
    {
        var bytes = new byte[Wire.BeaconSize];

        var length = Wire.WriteBeacon(bytes, Sample, 5861);

        Assert.Equal(43, length);
        Assert.Equal(
            "05" + "52545255" + "0001" + "0000"
            + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            + "16e5",
            Convert.ToHexStringLower(bytes));
    }

    [Theory]
    [InlineData((byte)DatagramType.Hello)]
    [InlineData((byte)DatagramType.HelloAck)]
    public void ParseHello_WhatWriteHelloWrote_ReturnsTheSameFields(byte typeByte)
    {
        var type = (DatagramType)typeByte;
        var bytes = new byte[Wire.HelloSize];
        Wire.WriteHello(bytes, type, Sample, 65000);

        Assert.Equal(ParseStatus.Valid, Wire.ParseHello(bytes, out var hello));

        Assert.Equal(new LinkHello(1, 0, Sample, 65000), hello);
        Assert.Equal((byte)type, bytes[0]);
    }

    [Fact]
    public void ParseBeacon_WhatWriteBeaconWrote_ReturnsTheSameFields()
    {
        var bytes = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(bytes, Sample, 40000);

        Assert.Equal(ParseStatus.Valid, Wire.ParseBeacon(bytes, out var beacon));

        Assert.Equal(new Beacon(1, 0, Sample, 40000), beacon);
    }

    [Fact]
    public void ParseHello_EveryShorterPrefix_IsTruncated()
    {
        var bytes = new byte[Wire.HelloSize];
        Wire.WriteHello(bytes, DatagramType.Hello, Sample, 1400);

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(ParseStatus.Truncated, Wire.ParseHello(bytes.AsSpan(0, length), out _));
        }
    }

    [Fact]
    public void ParseBeacon_EveryShorterPrefix_IsTruncated()
    {
        var bytes = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(bytes, Sample, 5861);

        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Equal(ParseStatus.Truncated, Wire.ParseBeacon(bytes.AsSpan(0, length), out _));
        }
    }

    [Fact]
    public void ParseHello_LongerDatagram_IgnoresTheExtraBytes()
    {
        var bytes = new byte[Wire.HelloSize + 20];
        Wire.WriteHello(bytes, DatagramType.Hello, Sample, 1400);
        bytes.AsSpan(Wire.HelloSize).Fill(0xAB);

        Assert.Equal(ParseStatus.Valid, Wire.ParseHello(bytes, out var hello));
        Assert.Equal(Sample, hello.Address);
    }

    [Fact]
    public void ParseHello_Version2_ReportsTheVersionEvenWhenShort()
    {
        var bytes = new byte[Wire.HelloSize];
        Wire.WriteHello(bytes, DatagramType.Hello, Sample, 1400, version: 2);

        // A later version may shorten the hello; its first 7 bytes are enough to name it.
        Assert.Equal(ParseStatus.UnsupportedVersion, Wire.ParseHello(bytes.AsSpan(0, 7), out var hello));
        Assert.Equal(2, hello.Version);
    }

    [Fact]
    public void ParseHello_ImpossibleFields_AreInvalid()
    {
        var noAddress = new byte[Wire.HelloSize];
        Wire.WriteHello(noAddress, DatagramType.Hello, RouterAddress.None, 1400);
        var tinyFrames = new byte[Wire.HelloSize];
        Wire.WriteHello(tinyFrames, DatagramType.Hello, Sample, Wire.MinimumFrameSize - 1);
        var badMagic = new byte[Wire.HelloSize];
        Wire.WriteHello(badMagic, DatagramType.Hello, Sample, 1400);
        badMagic[2] ^= 0xFF;

        Assert.Equal(ParseStatus.Invalid, Wire.ParseHello(noAddress, out _));
        Assert.Equal(ParseStatus.Invalid, Wire.ParseHello(tinyFrames, out _));
        Assert.Equal(ParseStatus.BadMagic, Wire.ParseHello(badMagic, out _));
    }

    [Fact]
    public void ParseBeacon_PortZeroOrNoAddress_IsInvalid()
    {
        var portZero = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(portZero, Sample, 0);
        var noAddress = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(noAddress, RouterAddress.None, 5861);

        Assert.Equal(ParseStatus.Invalid, Wire.ParseBeacon(portZero, out _));
        Assert.Equal(ParseStatus.Invalid, Wire.ParseBeacon(noAddress, out _));
    }

    [Fact]
    public void ParseHello_SeededRandomAndMutatedDatagrams_NeverThrowAndValidMeansValid()
    {
        var valid = new byte[Wire.HelloSize];
        Wire.WriteHello(valid, DatagramType.Hello, Sample, 1400);
        var seen = Fuzz(valid, seed: 11, (bytes, statuses) =>
        {
            var status = Wire.ParseHello(bytes, out var hello);
            statuses.Add(status);
            if (status == ParseStatus.Valid)
            {
                Assert.True(bytes.Length >= Wire.HelloSize);
                Assert.Equal(Wire.ProtocolVersion, hello.Version);
                Assert.False(hello.Address.IsNone);
                Assert.True(hello.MaxFrameSize >= Wire.MinimumFrameSize);
            }
        });

        // The fuzzer reached every outcome, so it exercised every branch of the parser.
        Assert.Equal(Enum.GetValues<ParseStatus>().ToHashSet(), seen);
    }

    [Fact]
    public void ParseBeacon_SeededRandomAndMutatedDatagrams_NeverThrowAndValidMeansValid()
    {
        var valid = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(valid, Sample, 5861);
        var seen = Fuzz(valid, seed: 12, (bytes, statuses) =>
        {
            var status = Wire.ParseBeacon(bytes, out var beacon);
            statuses.Add(status);
            if (status == ParseStatus.Valid)
            {
                Assert.True(bytes.Length >= Wire.BeaconSize);
                Assert.False(beacon.Address.IsNone);
                Assert.NotEqual(0, beacon.Port);
            }
        });

        Assert.Equal(Enum.GetValues<ParseStatus>().ToHashSet(), seen);
    }

    /// <summary>
    /// Runs <paramref name="check"/> over <see cref="FuzzIterations"/> seeded inputs: a third
    /// random bytes, a third the valid datagram with a few bytes changed (biased towards the
    /// header, where the decisions are) and sometimes its tail zeroed, a third the valid one cut or extended at random.
    /// </summary>
    private static HashSet<ParseStatus> Fuzz(byte[] valid, int seed, Action<byte[], HashSet<ParseStatus>> check)
    {
        var random = new Random(seed);
        var statuses = new HashSet<ParseStatus>();
        for (var i = 0; i < FuzzIterations; i++)
        {
            byte[] bytes;
            switch (i % 3)
            {
                case 0:
                    bytes = new byte[random.Next(0, 100)];
                    random.NextBytes(bytes);
                    break;
                case 1:
                    bytes = (byte[])valid.Clone();
                    for (var flips = random.Next(1, 4); flips > 0; flips--)
                    {
                        var at = random.Next(2) == 0 ? random.Next(Math.Min(12, bytes.Length)) : random.Next(bytes.Length);
                        bytes[at] = random.Next(4) == 0 ? (byte)0 : (byte)random.Next(256);
                    }

                    if (random.Next(4) == 0)
                    {
                        // Zeroed tails: no address, frame size 0, port 0.
                        bytes.AsSpan(random.Next(bytes.Length)).Clear();
                    }

                    break;
                default:
                    var length = random.Next(0, valid.Length + 10);
                    bytes = new byte[length];
                    valid.AsSpan(0, Math.Min(length, valid.Length)).CopyTo(bytes);
                    break;
            }

            check(bytes, statuses);
        }

        return statuses;
    }
}
