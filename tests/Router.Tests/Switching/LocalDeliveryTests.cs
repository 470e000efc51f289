using Microsoft.Extensions.Logging.Abstractions;
using Router.Routing;
using Router.Sdk;
using Router.Switching;

namespace Router.Tests.Switching;

public class LocalDeliveryTests
{
    private static readonly RouterAddress Source = TestAddresses.Random();
    private static readonly RouterAddress Self = TestAddresses.Random();

    private static FrameHeader Slice(uint id, uint length, uint offset) =>
        new(FrameKind.Message, 64, Self, Source, id, length, offset);

    [Fact]
    public async Task Accept_IncompleteMessage_TimesOutAndIsCounted()
    {
        var inbox = new Inbox(10);
        using var delivery = new LocalDelivery(inbox, 1 << 20, TimeSpan.FromMilliseconds(200), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
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
        using var delivery = new LocalDelivery(inbox, 1000, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        delivery.Accept(Slice(1, 600, 0), new byte[10]);
        delivery.Accept(Slice(2, 600, 0), new byte[10]);
        Assert.Equal(1, delivery.Pending);
        Assert.Equal(1, delivery.OverLimit);

        // Completing the first frees its memory for the next.
        delivery.Accept(Slice(1, 600, 10), new byte[590]);
        Assert.Equal(1, delivery.Completed);
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

    [Fact]
    public async Task MessageSender_LargeMessage_IsSlicedToTheNextHopsFrameSize()
    {
        var routes = new RouteTable();
        var frames = new List<byte[]>();
        var link = new MemoryNetmod("mem", maxFrameSize: 1080) { Recorded = frames };
        var neighbour = new NeighbourId(5);
        link.Neighbours.Add(neighbour);
        var destination = TestAddresses.Random();
        routes.Publish([new(destination, new NextHop(SwitchTests.Instance(link), neighbour, destination))]);
        var inbox = new Inbox(10);
        using var delivery = new LocalDelivery(inbox, 1 << 20, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        var sender = new MessageSender(Source, routes, delivery, 1 << 20, 64);

        var message = new byte[2500];
        new Random(3).NextBytes(message);
        var (result, id) = await sender.SendAsync(destination, message, CancellationToken.None);

        Assert.Equal(OriginateResult.Sent, result);
        Assert.Equal([1080, 1080, 580], frames.Select(f => f.Length));
        var reassembled = new byte[2500];
        foreach (var frame in frames)
        {
            Assert.Equal(FrameError.None, FrameHeader.TryRead(frame, 1 << 20, out var header));
            Assert.Equal(id, header.MessageId);
            Assert.Equal(destination, header.Destination);
            frame.AsSpan(FrameHeader.Size).CopyTo(reassembled.AsSpan((int)header.Offset));
        }

        Assert.Equal(message, reassembled);
        Assert.Equal(OriginateResult.NoRoute, (await sender.SendAsync(TestAddresses.Random(), message, CancellationToken.None)).Result);
        Assert.Equal(OriginateResult.TooLarge, (await sender.SendAsync(destination, new byte[(1 << 20) + 1], CancellationToken.None)).Result);
    }
}
