using System.Buffers.Binary;
using System.Net;
using System.Threading.Channels;
using Router.Sdk;

namespace Router.Tests.Overlay;

/// <summary>
/// An IP interface in memory (a <see cref="LinkKind.Local"/> netmod with
/// <see cref="IIpInterfaceFeature"/>): the test injects the packets "this machine" sends and
/// reads the ones the router writes back, and sees the mesh prefixes the router asks it to route.
/// </summary>
internal sealed class MemoryIpInterface(IReadOnlyList<IPNetwork> announced) : Netmod, IIpInterfaceFeature
{
    private readonly Channel<InboundFrame> _incoming = Channel.CreateBounded<InboundFrame>(4096);
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();
    private volatile IReadOnlyList<IPNetwork> _meshPrefixes = [];
    private int _writtenSinceCall;
    private int _lastWriter;

    public override NetmodCapabilities Capabilities { get; } = new("ip", VirtioNetHeader.MaxFrameSize, false, LinkKind.Local);

    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    /// <summary>Packets the router wrote to this interface (the IP packet, without the virtio header).</summary>
    public Channel<byte[]> Written { get; } = Channel.CreateUnbounded<byte[]>();

    /// <summary>
    /// One entry per <see cref="OnPacketsWritten"/> call: how many packets were written since
    /// the call before, and whether the last of them was written on the calling thread.
    /// </summary>
    public System.Collections.Concurrent.ConcurrentQueue<(int Packets, bool SameThread)> WriteCalls { get; } = new();

    public IReadOnlyList<IPNetwork> AnnouncedPrefixes => announced;

    public IReadOnlyList<IPNetwork> MeshPrefixes => _meshPrefixes;

    /// <summary>Bytes left free in front of each packet handed to the router (<see cref="InboundFrame.Offset"/>), as the tun netmod leaves <see cref="NetmodContext.ReceiveHeadroom"/>.</summary>
    public int Headroom { get; set; }

    /// <summary>"This machine" sends <paramref name="packet"/> through the interface; <paramref name="moreFollows"/> as <see cref="InboundFrame.MoreFollows"/>.</summary>
    public void Inject(byte[] packet, bool moreFollows = false)
    {
        var headroom = Headroom;
        var buffer = FrameBuffers.Rent(headroom + VirtioNetHeader.Size + packet.Length);
        VirtioNetHeader.None.Write(buffer.AsSpan(headroom));
        packet.CopyTo(buffer.AsSpan(headroom + VirtioNetHeader.Size));
        if (!_incoming.Writer.TryWrite(new InboundFrame(new NeighbourId(0), buffer, headroom, VirtioNetHeader.Size + packet.Length, moreFollows)))
        {
            FrameBuffers.Return(buffer);
            throw new InvalidOperationException("interface queue full");
        }
    }

    public ValueTask SetMeshPrefixesAsync(IReadOnlyList<IPNetwork> prefixes, CancellationToken cancellationToken)
    {
        _meshPrefixes = prefixes;
        return ValueTask.CompletedTask;
    }

    public override Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        Written.Writer.TryWrite(frame[VirtioNetHeader.Size..].ToArray());
        Interlocked.Increment(ref _writtenSinceCall);
        Volatile.Write(ref _lastWriter, Environment.CurrentManagedThreadId);
        return ValueTask.FromResult(SendResult.Sent);
    }

    public void OnPacketsWritten() =>
        WriteCalls.Enqueue((Interlocked.Exchange(ref _writtenSinceCall, 0), Volatile.Read(ref _lastWriter) == Environment.CurrentManagedThreadId));

    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("an IP interface has no neighbours to flood to");

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        _incoming.Writer.TryComplete();
        _events.Writer.TryComplete();
        return Task.CompletedTask;
    }

    /// <summary>An IPv4 UDP-like packet: a 20-byte header (protocol 17) and <paramref name="payload"/>.</summary>
    public static byte[] IPv4(IPAddress source, IPAddress destination, byte[] payload)
    {
        var packet = new byte[20 + payload.Length];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)packet.Length);
        packet[8] = 64;
        packet[9] = 17;
        source.TryWriteBytes(packet.AsSpan(12, 4), out _);
        destination.TryWriteBytes(packet.AsSpan(16, 4), out _);
        payload.CopyTo(packet, 20);
        return packet;
    }

    /// <summary>An IPv6 packet: a 40-byte header (next header 17) and <paramref name="payload"/>.</summary>
    public static byte[] IPv6(IPAddress source, IPAddress destination, byte[] payload)
    {
        var packet = new byte[40 + payload.Length];
        packet[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), (ushort)payload.Length);
        packet[6] = 17;
        packet[7] = 64;
        source.TryWriteBytes(packet.AsSpan(8, 16), out _);
        destination.TryWriteBytes(packet.AsSpan(24, 16), out _);
        payload.CopyTo(packet, 40);
        return packet;
    }
}
