using Microsoft.Extensions.Logging.Abstractions;
using Router.Routing;
using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;
using Router.Tests.Security.Sessions;

namespace Router.Tests.Switching;

public sealed class LocalDeliveryTests : IDisposable
{
    private static readonly RouterAddress Source = TestAddresses.Random();
    private static readonly RouterAddress Self = TestAddresses.Random();

    // This router's end-to-end sessions: what completes here is opened with them.
    private readonly Party _self = new(new SessionOptions(), TimeProvider.System);

    public void Dispose() => _self.Dispose();

    private LocalDelivery NewDelivery(Inbox inbox, long bufferLimit, TimeSpan timeout) =>
        new(inbox, _self.Sessions, bufferLimit, bufferLimit, timeout, TimeProvider.System, NullLogger<LocalDelivery>.Instance);

    private static FrameHeader Slice(uint id, uint length, uint offset) =>
        new(FrameKind.Message, 64, Self, Source, id, length, offset);

    [Fact]
    public async Task Accept_IncompleteMessage_TimesOutAndIsCounted()
    {
        var inbox = new Inbox(10);
        using var delivery = NewDelivery(inbox, 1 << 20, TimeSpan.FromMilliseconds(200));
        delivery.Accept(Slice(1, 100, 0), new byte[50]);
        Assert.Equal(1, delivery.Pending);
        Assert.Equal(100, delivery.BufferedBytes);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (delivery.TimedOut == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, delivery.TimedOut);
        Assert.Equal(0, delivery.Pending);
        Assert.Equal(0, delivery.BufferedBytes);
        Assert.Equal(0, inbox.Waiting);
    }

    [Fact]
    public void Accept_MoreThanTheBufferLimit_DropsNewMessagesAndCountsThem()
    {
        var inbox = new Inbox(10);
        using var delivery = NewDelivery(inbox, 1000, TimeSpan.FromSeconds(30));
        delivery.Accept(Slice(1, 600, 0), new byte[10]);
        delivery.Accept(Slice(2, 600, 0), new byte[10]);
        Assert.Equal(1, delivery.Pending);
        Assert.Equal(1, delivery.OverLimit);

        // Completing the first frees its memory for the next. (It is not sealed, so it is dropped
        // rather than delivered: tests/Router.Tests/Security/Sessions covers sealed delivery.)
        delivery.Accept(Slice(1, 600, 10), new byte[590]);
        Assert.Equal(0, delivery.Pending);
        Assert.Equal(0, delivery.BufferedBytes);
        delivery.Accept(Slice(2, 600, 0), new byte[10]);
        Assert.Equal(1, delivery.Pending);
    }

    [Fact]
    public void Inbox_WithoutListener_KeepsTheNewestAndCountsDrops()
    {
        var inbox = new Inbox(2);
        for (uint i = 0; i < 5; i++)
        {
            inbox.Deliver(new DeliveredMessage(Source, i, [], DateTimeOffset.UtcNow));
        }

        Assert.Equal(2, inbox.Waiting);
        Assert.Equal(3, inbox.Dropped);
        using var cts = new CancellationTokenSource();
        var reader = inbox.Listen(cts.Token);
        Assert.True(reader.TryRead(out var first));
        Assert.Equal(3u, first.MessageId);
        Assert.True(reader.TryRead(out var second));
        Assert.Equal(4u, second.MessageId);
    }
}
