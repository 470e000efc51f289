using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Tests.Security.Sessions;

public sealed class SealedMessageTests : IDisposable
{
    private readonly SessionHarness _mesh = new();

    private Party A => _mesh.A;

    private Party B => _mesh.B;

    public void Dispose() => _mesh.Dispose();

    private async Task<byte[]> SealAsync(byte[] message, uint messageId = 5)
    {
        var session = await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None);
        var sealedMessage = new byte[message.Length + SealedMessage.Overhead];
        Assert.True(A.Sessions.TrySeal(session!, messageId, message, sealedMessage));
        return sealedMessage;
    }

    private OpenResult Open(byte[] sealedMessage, uint messageId = 5) => Open(A.MessageHeader(messageId, sealedMessage.Length), sealedMessage, out _);

    private OpenResult Open(FrameHeader header, byte[] sealedMessage, out byte[]? opened) => B.Sessions.TryOpen(header, sealedMessage, out opened);

    [Fact]
    public async Task SealThenOpen_RoundTrip_GivesTheMessageBack()
    {
        var message = new byte[70_000];
        new Random(1).NextBytes(message);

        var sealedMessage = await SealAsync(message);

        Assert.Equal(message.Length + 28, sealedMessage.Length);
        Assert.False(sealedMessage.AsSpan(12, 1000).SequenceEqual(message.AsSpan(0, 1000)));
        Assert.Equal(OpenResult.Opened, Open(A.MessageHeader(5, sealedMessage.Length), sealedMessage, out var opened));
        Assert.Equal(message, opened);
        Assert.Equal((1, 1), (A.Counters.MessagesSealed, B.Counters.MessagesOpened));
    }

    [Fact]
    public async Task SealThenOpen_EmptyMessage_RoundTrips()
    {
        var sealedMessage = await SealAsync([]);

        Assert.Equal(OpenResult.Opened, Open(A.MessageHeader(5, sealedMessage.Length), sealedMessage, out var opened));
        Assert.Empty(opened!);
    }

    [Theory]
    [InlineData(4, nameof(OpenResult.BadTag))]      // counter
    [InlineData(11, nameof(OpenResult.BadTag))]     // counter, low byte
    [InlineData(12, nameof(OpenResult.BadTag))]     // ciphertext, first byte
    [InlineData(200, nameof(OpenResult.BadTag))]    // ciphertext
    [InlineData(-16, nameof(OpenResult.BadTag))]    // tag, first byte
    [InlineData(-1, nameof(OpenResult.BadTag))]     // tag, last byte
    [InlineData(0, nameof(OpenResult.UnknownSession))] // receiver session id
    public async Task Open_AnyBitFlipped_IsDroppedAndCounted(int offset, string result)
    {
        var expected = Enum.Parse<OpenResult>(result);
        var sealedMessage = await SealAsync(new byte[300]);
        var index = offset < 0 ? sealedMessage.Length + offset : offset;
        sealedMessage[index] ^= 0x80;

        Assert.Equal(expected, Open(sealedMessage));

        Assert.Equal(1, expected == OpenResult.BadTag ? B.Counters.BadTag : B.Counters.UnknownSession);
        Assert.Equal(0, B.Counters.MessagesOpened);
    }

    [Fact]
    public async Task Open_HeaderFieldsBoundIntoTheTag_ChangedOnTheWay_AreDropped()
    {
        var sealedMessage = await SealAsync(new byte[100], messageId: 5);
        var to = B.Address;
        var from = A.Address;
        var length = (uint)sealedMessage.Length;

        Assert.Equal(OpenResult.BadTag, Open(new FrameHeader(FrameKind.Message, 64, to, from, 6, length, 0), sealedMessage, out _));                  // message id
        Assert.Equal(OpenResult.BadTag, Open(new FrameHeader(FrameKind.Message, 64, TestAddresses.Random(), from, 5, length, 0), sealedMessage, out _)); // destination
        Assert.Equal(OpenResult.BadTag, Open(new FrameHeader(FrameKind.Message, 64, to, from, 5, length + 1, 0), sealedMessage, out _));             // message length
        Assert.Equal(OpenResult.BadTag, Open(new FrameHeader(FrameKind.EchoReply, 64, to, from, 5, length, 0), sealedMessage, out _));               // kind
        Assert.Equal(OpenResult.UnknownSession, Open(new FrameHeader(FrameKind.Message, 64, to, TestAddresses.Random(), 5, length, 0), sealedMessage, out _)); // source: not this session's peer
        Assert.Equal(4, B.Counters.BadTag);
        Assert.Equal(1, B.Counters.UnknownSession);

        // The hop limit and the slice offset change on the way and are not bound.
        Assert.Equal(OpenResult.Opened, Open(new FrameHeader(FrameKind.Message, 3, to, from, 5, length, 0), sealedMessage, out _));
    }

    [Fact]
    public async Task Open_SameMessageTwice_SecondIsAReplay()
    {
        var sealedMessage = await SealAsync([1, 2, 3]);

        Assert.Equal(OpenResult.Opened, Open(sealedMessage));
        Assert.Equal(OpenResult.Replayed, Open(sealedMessage));
        Assert.Equal(1, B.Counters.Replayed);
    }

    [Fact]
    public async Task Open_OutOfOrderWithinTheWindow_AllOpenOnce()
    {
        var sealedMessages = new List<byte[]>();
        for (var i = 0; i < 500; i++)
        {
            sealedMessages.Add(await SealAsync([(byte)i]));
        }

        foreach (var sealedMessage in sealedMessages.OrderBy(_ => Random.Shared.Next()))
        {
            Assert.Equal(OpenResult.Opened, Open(sealedMessage));
        }

        Assert.All(sealedMessages, m => Assert.Equal(OpenResult.Replayed, Open(m)));
    }

    [Fact]
    public async Task Open_OlderThanTheWindow_IsRefused()
    {
        var first = await SealAsync([0]);
        byte[] last = [];
        for (var i = 1; i <= MessageReplayWindow.Size; i++)
        {
            last = await SealAsync([1]);
        }

        Assert.Equal(OpenResult.Opened, Open(last));
        Assert.Equal(OpenResult.Replayed, Open(first));
    }

    [Fact]
    public async Task Open_UnknownSessionId_IsDroppedAndCounted()
    {
        var sealedMessage = await SealAsync([9]);
        sealedMessage[0] ^= 0xff;

        Assert.Equal(OpenResult.UnknownSession, Open(sealedMessage));
        Assert.Equal(OpenResult.Malformed, Open(new byte[27]));
        Assert.Equal(1, B.Counters.UnknownSession);
        Assert.Equal(1, B.Counters.Drops(SessionDrop.Malformed));
    }

    [Fact]
    public void ReplayWindow_SlidesAndForgetsOnlyWhatFallsOut()
    {
        var window = new MessageReplayWindow();
        Assert.True(window.CanAccept(0));
        window.Mark(0);
        Assert.False(window.CanAccept(0));

        window.Mark(10_000);
        Assert.False(window.CanAccept(10_000));
        Assert.True(window.CanAccept(10_000 - MessageReplayWindow.Size + 1));
        Assert.False(window.CanAccept(10_000 - MessageReplayWindow.Size));
        Assert.True(window.CanAccept(9_999));
        window.Mark(9_999);
        Assert.False(window.CanAccept(9_999));

        // A jump of more than the window forgets everything before it.
        window.Mark(100_000);
        Assert.False(window.CanAccept(9_999));
        Assert.True(window.CanAccept(99_999));
        Assert.True(window.CanAccept(ulong.MaxValue));
    }
}
