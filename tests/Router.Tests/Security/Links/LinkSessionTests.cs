using System.Security.Cryptography;
using Router.Security.Links;

namespace Router.Tests.Security.Links;

public sealed class LinkSessionTests
{
    private static (LinkSession A, LinkSession B) Pair()
    {
        var k1 = RandomNumberGenerator.GetBytes(32);
        var k2 = RandomNumberGenerator.GetBytes(32);
        return (new LinkSession(new LinkKeys(k1, k2)), new LinkSession(new LinkKeys(k2, k1)));
    }

    private static byte[] Sealed(LinkSession session, byte[] frame, out int length)
    {
        var buffer = new byte[frame.Length + LinkSession.TrailerSize];
        frame.CopyTo(buffer, 0);
        length = session.Seal(buffer, frame.Length);
        return buffer;
    }

    [Fact]
    public void SealedFrame_Opens_ToTheOriginalLength()
    {
        var (a, b) = Pair();
        var frame = RandomNumberGenerator.GetBytes(120);
        var buffer = Sealed(a, frame, out var length);
        Assert.Equal(120 + LinkSession.TrailerSize, length);
        Assert.Equal(SealFailure.None, b.TryOpen(buffer.AsSpan(0, length), out var opened));
        Assert.Equal(120, opened);
        Assert.Equal(frame, buffer[..120]);
    }

    [Fact]
    public void AnyFlippedBit_FailsTheTag()
    {
        var (a, b) = Pair();
        var buffer = Sealed(a, RandomNumberGenerator.GetBytes(100), out var length);
        for (var bit = 0; bit < length * 8; bit++)
        {
            var tampered = (byte[])buffer.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(SealFailure.None, b.TryOpen(tampered.AsSpan(0, length), out _));
        }

        Assert.Equal(SealFailure.None, b.TryOpen(buffer.AsSpan(0, length), out _));
    }

    [Fact]
    public void Replay_IsRejected_ReorderWithinTheWindow_IsAccepted()
    {
        var (a, b) = Pair();
        var frames = Enumerable.Range(0, 70).Select(_ => Sealed(a, RandomNumberGenerator.GetBytes(50), out _)).ToArray();
        var length = 50 + LinkSession.TrailerSize;

        Assert.Equal(SealFailure.None, b.TryOpen(frames[5].AsSpan(0, length), out _));
        Assert.Equal(SealFailure.Replayed, b.TryOpen(frames[5].AsSpan(0, length), out _));
        Assert.Equal(SealFailure.None, b.TryOpen(frames[2].AsSpan(0, length), out _)); // late but new
        Assert.Equal(SealFailure.None, b.TryOpen(frames[69].AsSpan(0, length), out _));
        Assert.Equal(SealFailure.Replayed, b.TryOpen(frames[3].AsSpan(0, length), out _)); // now too old: outside the 64-frame window
        Assert.Equal(SealFailure.None, b.TryOpen(frames[68].AsSpan(0, length), out _));
    }

    [Fact]
    public void WrongKey_FailsTheTag()
    {
        var (a, _) = Pair();
        var (_, other) = Pair();
        var buffer = Sealed(a, RandomNumberGenerator.GetBytes(64), out var length);
        Assert.Equal(SealFailure.BadTag, other.TryOpen(buffer.AsSpan(0, length), out _));
    }

    [OptimizedFact]
    public void SealAndOpen_AllocateNothing()
    {
        var (a, b) = Pair();
        var buffer = new byte[200 + LinkSession.TrailerSize];
        for (var i = 0; i < 100; i++)
        {
            b.TryOpen(buffer.AsSpan(0, a.Seal(buffer, 200)), out _);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            b.TryOpen(buffer.AsSpan(0, a.Seal(buffer, 200)), out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
