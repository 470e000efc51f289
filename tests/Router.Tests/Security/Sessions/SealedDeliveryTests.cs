using Microsoft.Extensions.Logging.Abstractions;
using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;
using Router.Tests.Switching;

namespace Router.Tests.Security.Sessions;

/// <summary>Sealed messages and signed floods through <see cref="LocalDelivery"/> and <see cref="MessageSender"/>.</summary>
public sealed class SealedDeliveryTests : IDisposable
{
    private readonly SessionHarness _mesh = new();
    private readonly Inbox _inbox = new(1000);
    private readonly LocalDelivery _delivery;
    private readonly System.Threading.Channels.ChannelReader<DeliveredMessage> _delivered;

    public SealedDeliveryTests()
    {
        _delivery = new LocalDelivery(_inbox, _mesh.B.Sessions, 1 << 20, 1 << 20, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        _delivered = _inbox.Listen(CancellationToken.None);
    }

    private Party A => _mesh.A;

    private Party B => _mesh.B;

    public void Dispose()
    {
        _delivery.Dispose();
        _mesh.Dispose();
    }

    private async Task<byte[]> SealAsync(byte[] message, uint messageId)
    {
        var session = await A.Sessions.GetSendSessionAsync(B.Address, CancellationToken.None);
        var sealedMessage = new byte[message.Length + SealedMessage.Overhead];
        Assert.True(A.Sessions.TrySeal(session!, messageId, message, sealedMessage));
        return sealedMessage;
    }

    /// <summary>Hands a whole message to B's delivery as slices of <paramref name="sliceBytes"/>, in the given order.</summary>
    private void Deliver(RouterAddress source, FrameKind kind, uint messageId, byte[] message, int sliceBytes, bool reverse = false)
    {
        var offsets = Enumerable.Range(0, Math.Max(1, (message.Length + sliceBytes - 1) / sliceBytes)).Select(i => i * sliceBytes);
        foreach (var offset in reverse ? offsets.Reverse() : offsets)
        {
            var length = Math.Min(sliceBytes, message.Length - offset);
            var destination = kind == FrameKind.Flood ? RouterAddress.None : B.Address;
            _delivery.Accept(new FrameHeader(kind, 60, destination, source, messageId, (uint)message.Length, (uint)offset), message.AsSpan(offset, length));
        }
    }

    private DeliveredMessage? Next() => _delivered.TryRead(out var message) ? message : null;

    [Fact]
    public async Task Accept_SealedMessageInSlicesInAnyOrder_IsOpenedAndDelivered()
    {
        var message = new byte[10_000];
        new Random(5).NextBytes(message);
        var sealedMessage = await SealAsync(message, 77);

        Deliver(A.Address, FrameKind.Message, 77, sealedMessage, 1400, reverse: true);

        var delivered = Next();
        Assert.NotNull(delivered);
        Assert.Equal((A.Address, 77u), (delivered.From, delivered.MessageId));
        Assert.Equal(message, delivered.Payload);
        Assert.Equal(1, _delivery.Completed);
        Assert.Equal(0, _delivery.BufferedBytes);
    }

    [Fact]
    public async Task Accept_TamperedOrReplayedSealedMessage_IsDroppedAndCounted()
    {
        var sealedMessage = await SealAsync(new byte[3000], 1);
        var another = await SealAsync(new byte[3000], 2);
        Deliver(A.Address, FrameKind.Message, 1, sealedMessage, 1000);
        Deliver(A.Address, FrameKind.Message, 1, sealedMessage, 1000); // replayed
        another[1500] ^= 1;
        Deliver(A.Address, FrameKind.Message, 2, another, 1000);       // altered

        Assert.Equal(1, _delivery.Completed);
        Assert.Equal(1, B.Counters.Replayed);
        Assert.Equal(1, B.Counters.BadTag);
    }

    [Fact]
    public void Accept_PlaintextMessage_IsNotDelivered()
    {
        Deliver(A.Address, FrameKind.Message, 3, "not sealed at all, just some text"u8.ToArray(), 1000);

        Assert.Equal(0, _delivery.Completed);
        Assert.Equal(1, B.Counters.UnknownSession + B.Counters.BadTag);
    }

    [Fact]
    public void Accept_SignedFlood_IsVerifiedAndThePayloadDelivered()
    {
        using var source = RouterIdentity.Create();
        var payload = new byte[5000];
        new Random(6).NextBytes(payload);
        var flood = new byte[payload.Length + FloodSignature.Overhead];
        payload.CopyTo(flood, 0);
        FloodSignature.Sign(source, 12, payload, flood.AsSpan(payload.Length));

        Deliver(source.Address, FrameKind.Flood, 12, flood, 1400);

        var delivered = Next();
        Assert.NotNull(delivered);
        Assert.Equal(source.Address, delivered.From);
        Assert.Equal(payload, delivered.Payload);
    }

    [Fact]
    public void Accept_ForgedFloods_AreDroppedAndCounted()
    {
        using var source = RouterIdentity.Create();
        using var mallory = RouterIdentity.Create();
        var payload = "all routers: reboot"u8.ToArray();
        byte[] Signed(RouterIdentity signer, uint id)
        {
            var flood = new byte[payload.Length + FloodSignature.Overhead];
            payload.CopyTo(flood, 0);
            FloodSignature.Sign(signer, id, payload, flood.AsSpan(payload.Length));
            return flood;
        }

        Deliver(source.Address, FrameKind.Flood, 1, Signed(mallory, 1), 1000);     // signed by another router, sent as the source
        var altered = Signed(source, 2);
        altered[0] ^= 1;
        Deliver(source.Address, FrameKind.Flood, 2, altered, 1000);                  // payload altered
        Deliver(source.Address, FrameKind.Flood, 4, Signed(source, 3), 1000);        // replayed under another message id
        Deliver(source.Address, FrameKind.Flood, 5, payload, 1000);                  // no signature at all
        var badSignature = Signed(source, 6);
        badSignature[^1] ^= 1;
        Deliver(source.Address, FrameKind.Flood, 6, badSignature, 1000);             // signature altered

        Assert.Equal(0, _delivery.Completed);
        Assert.Equal(5, B.Counters.BadFloodSignature);
    }

    [Fact]
    public void Accept_OneSourceOverItsReassemblyLimit_IsDroppedAndCounted_OthersAreNot()
    {
        using var delivery = new LocalDelivery(_inbox, B.Sessions, bufferLimit: 10_000, sourceLimit: 1000, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        var greedy = TestAddresses.Random();
        var other = TestAddresses.Random();
        FrameHeader Slice(RouterAddress source, uint id, uint offset) => new(FrameKind.Message, 64, B.Address, source, id, 600, offset);

        delivery.Accept(Slice(greedy, 1, 0), new byte[100]);
        delivery.Accept(Slice(greedy, 2, 0), new byte[100]); // 1,200 bytes from one source: over its 1,000
        delivery.Accept(Slice(other, 3, 0), new byte[100]);

        Assert.Equal(2, delivery.Pending);
        Assert.Equal(1, delivery.OverSourceLimit);
        Assert.Equal(0, delivery.OverLimit);

        // Once the first message is done (here: dropped, it is not sealed), the source may start another.
        delivery.Accept(Slice(greedy, 1, 100), new byte[500]);
        delivery.Accept(Slice(greedy, 2, 0), new byte[100]);
        Assert.Equal(2, delivery.Pending);
        Assert.Equal(1, delivery.OverSourceLimit);
        Assert.Equal(1200, delivery.BufferedBytes);
    }

    [Fact]
    public async Task MessageSender_SealsAndSlices_AndTheDestinationOpens()
    {
        var routes = new RouteTable();
        var frames = new List<byte[]>();
        var link = new MemoryNetmod("mem", maxFrameSize: 1080) { Recorded = frames };
        var neighbour = new NeighbourId(5);
        link.Neighbours.Add(neighbour);
        routes.Publish([new(B.Address, new NextHop(SwitchTests.Instance(link), neighbour, B.Address))]);
        using var senderDelivery = new LocalDelivery(new Inbox(10), A.Sessions, 1 << 20, 1 << 20, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        var sender = new MessageSender(A.Address, routes, senderDelivery, 1 << 20, 64);

        var message = new byte[2500];
        new Random(3).NextBytes(message);
        var (result, id) = await sender.SendAsync(B.Address, message, CancellationToken.None);

        Assert.Equal(OriginateResult.Sent, result);
        Assert.Equal([1080, 1080, 608], frames.Select(f => f.Length)); // 2,500 + 28 bytes of sealing
        foreach (var frame in frames)
        {
            Assert.Equal(FrameError.None, FrameHeader.TryRead(frame, 1 << 20, out var header));
            Assert.Equal((id, 2528u, B.Address), (header.MessageId, header.MessageLength, header.Destination));
            Assert.False(frame.AsSpan(FrameHeader.Size).IndexOf(message.AsSpan(0, 64)) >= 0);
            _delivery.Accept(header, frame.AsSpan(FrameHeader.Size));
        }

        Assert.Equal(message, Next()!.Payload);

        // A small message goes out as one frame, sealed straight into it.
        frames.Clear();
        Assert.Equal(OriginateResult.Sent, (await sender.SendAsync(B.Address, new byte[] { 1, 2, 3 }, CancellationToken.None)).Result);
        Assert.Equal(FrameHeader.Size + 3 + 28, Assert.Single(frames).Length);
        Assert.Equal(FrameError.None, FrameHeader.TryRead(frames[0], 1 << 20, out var small));
        _delivery.Accept(small, frames[0].AsSpan(FrameHeader.Size));
        Assert.Equal([1, 2, 3], Next()!.Payload);

        // To itself: delivered there, unsealed; nowhere to send to: no key exchange either.
        Assert.Equal(OriginateResult.Sent, (await sender.SendAsync(A.Address, new byte[] { 4 }, CancellationToken.None)).Result);
        Assert.Equal(OriginateResult.NoRoute, (await sender.SendAsync(TestAddresses.Random(), new byte[] { 5 }, CancellationToken.None)).Result);
        Assert.Equal(1, A.Counters.HandshakesInitiated);
    }

    [Fact]
    public async Task MessageSender_DestinationNeverAnswers_FailsWithNoSession()
    {
        var routes = new RouteTable();
        var link = new MemoryNetmod("mem") { Recorded = [] };
        var neighbour = new NeighbourId(5);
        link.Neighbours.Add(neighbour);
        routes.Publish([new(B.Address, new NextHop(SwitchTests.Instance(link), neighbour, B.Address))]);
        A.Tamper = (_, _) => false;
        using var senderDelivery = new LocalDelivery(new Inbox(10), A.Sessions, 1 << 20, 1 << 20, TimeSpan.FromSeconds(30), TimeProvider.System, NullLogger<LocalDelivery>.Instance);
        var sender = new MessageSender(A.Address, routes, senderDelivery, 1 << 20, 64);

        Assert.Equal(OriginateResult.NoSession, (await sender.SendAsync(B.Address, new byte[] { 1 }, CancellationToken.None)).Result);
        Assert.Empty(link.Recorded!);
        Assert.Equal(1, A.Counters.SendsWithoutSession);
    }
}
