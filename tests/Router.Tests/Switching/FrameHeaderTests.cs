using Router.Sdk;
using Router.Switching;

namespace Router.Tests.Switching;

public class FrameHeaderTests
{
    private static readonly RouterAddress A = TestAddresses.Random(new Random(1));
    private static readonly RouterAddress B = TestAddresses.Random(new Random(2));

    private static byte[] Frame(FrameHeader header, int payload)
    {
        var frame = new byte[FrameHeader.Size + payload];
        header.Write(frame);
        return frame;
    }

    [Fact]
    public void Write_ThenTryRead_RoundTrips()
    {
        var header = new FrameHeader(FrameKind.Message, 17, A, B, 0xdeadbeef, 1000, 200);
        var frame = Frame(header, 300);
        Assert.Equal(FrameError.None, FrameHeader.TryRead(frame, 1 << 20, out var read));
        Assert.Equal(FrameKind.Message, read.Kind);
        Assert.Equal(17, read.HopLimit);
        Assert.Equal(A, read.Destination);
        Assert.Equal(B, read.Source);
        Assert.Equal(0xdeadbeefu, read.MessageId);
        Assert.Equal(1000u, read.MessageLength);
        Assert.Equal(200u, read.Offset);
    }

    [Fact]
    public void Write_MatchesTheDocumentedLayout()
    {
        var header = new FrameHeader(FrameKind.Message, 64, A, B, 0x01020304, 0x0a0b0c0d, 0x00000010);
        var frame = Frame(header, 0);
        Assert.Equal(FrameHeader.Size, 80);
        Assert.Equal([1, 1, 64, 0], frame[..4]);
        Assert.Equal(A.ToArray(), frame[4..36]);
        Assert.Equal(B.ToArray(), frame[36..68]);
        Assert.Equal([1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d, 0, 0, 0, 0x10], frame[68..80]);
    }

    [Fact]
    public void Write_DocumentedTestVector_MatchesByteForByte()
    {
        // docs/wire-format.md, "Test vector".
        const string expected =
            "01014000" +
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f" +
            "010203040000000500000000" +
            "68656c6c6f";
        var destination = RouterAddress.Read(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var source = RouterAddress.Read(Enumerable.Range(32, 32).Select(i => (byte)i).ToArray());
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, destination, source, 0x01020304, 5, 0), 5);
        "hello"u8.CopyTo(frame.AsSpan(FrameHeader.Size));

        Assert.Equal(expected, Convert.ToHexStringLower(frame));
    }

    [Fact]
    public void TryRead_EveryTruncation_IsTooShort()
    {
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, 10, 0), 10);
        for (var length = 0; length < FrameHeader.Size; length++)
        {
            Assert.Equal(FrameError.TooShort, FrameHeader.TryRead(frame.AsSpan(0, length), 1 << 20, out _));
        }
    }

    [Fact]
    public void TryRead_WrongVersionOrKind_IsRejected()
    {
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, 4, 0), 4);
        frame[0] = 2;
        Assert.Equal(FrameError.UnknownVersion, FrameHeader.TryRead(frame, 1 << 20, out _));
        frame[0] = 1;
        frame[1] = 99;
        Assert.Equal(FrameError.UnknownKind, FrameHeader.TryRead(frame, 1 << 20, out _));
    }

    [Theory]
    [InlineData(10u, 5u, 6)]   // slice runs past the end of the message
    [InlineData(10u, 0u, 0)]   // empty slice of a non-empty message
    [InlineData(10u, 0xffffffffu, 1)] // offset overflow
    public void TryRead_SliceOutsideMessage_IsBadSlice(uint length, uint offset, int payload)
    {
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, length, offset), payload);
        Assert.Equal(FrameError.BadSlice, FrameHeader.TryRead(frame, 1 << 20, out _));
    }

    [Fact]
    public void TryRead_MessageAboveLimit_IsTooLarge()
    {
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, 2000, 0), 10);
        Assert.Equal(FrameError.MessageTooLarge, FrameHeader.TryRead(frame, 1999, out _));
    }

    [Fact]
    public void TryRead_EmptyMessage_IsValid()
    {
        var frame = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, 0, 0), 0);
        Assert.Equal(FrameError.None, FrameHeader.TryRead(frame, 10, out _));
    }

    [Fact]
    public void TryRead_RandomAndMutatedInput_NeverThrows()
    {
        var random = new Random(12345);
        var valid = Frame(new FrameHeader(FrameKind.Message, 64, A, B, 1, 100, 0), 100);
        var buffer = new byte[400];
        for (var i = 0; i < 200_000; i++)
        {
            var length = random.Next(buffer.Length);
            if (i % 2 == 0)
            {
                random.NextBytes(buffer.AsSpan(0, length));
            }
            else
            {
                length = valid.Length;
                valid.CopyTo(buffer, 0);
                for (var flips = random.Next(1, 4); flips > 0; flips--)
                {
                    buffer[random.Next(length)] ^= (byte)(1 << random.Next(8));
                }
            }

            var error = FrameHeader.TryRead(buffer.AsSpan(0, length), 1 << 20, out var header);
            if (error == FrameError.None)
            {
                Assert.True(header.Offset + (ulong)(length - FrameHeader.Size) <= header.MessageLength);
            }
        }
    }
}
