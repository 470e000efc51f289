// A neighbour is one remote router (one router address, one NeighbourId); a path is one
// (local socket, remote socket address) pair over which its hellos were exchanged. A router
// reached two ways — configured by IPv4 and discovered by IPv6 link-local, say — is one
// neighbour with two paths: frames leave on the oldest live path, every path is kept alive
// by its own keepalives and dies on its own silence, and the neighbour goes down with its
// last path.
//
// Links (the control loop) is the only writer of all of this; the frame paths read it without
// locks through LinkTable, an immutable snapshot replaced whole on every change.
using System.Net;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>One remote router, up from its first path until its last path dies. See the comment at the top of this file.</summary>
internal sealed class Neighbour
{
    private volatile LinkPath[] _paths = [];
    private volatile int _maxSendFrame;
    private volatile bool _announced;
    private volatile bool _gone;

    public Neighbour(NeighbourId id, RouterAddress address, bool inbound, DateTimeOffset upSince)
    {
        Id = id;
        Address = address;
        Inbound = inbound;
        UpSince = upSince;
    }

    public NeighbourId Id { get; }

    public RouterAddress Address { get; }

    /// <summary>True when the peer's hello created the link, false when our hello was answered.</summary>
    public bool Inbound { get; }

    public DateTimeOffset UpSince { get; }

    /// <summary>The first path's remote address, as reported in the Up and Down events.</summary>
    public string RemoteEndpoint { get; private set; } = string.Empty;

    /// <summary>The live paths, oldest first; frames leave on the first. Replaced whole by Links.</summary>
    public LinkPath[] Paths
    {
        get => _paths;
        set
        {
            if (RemoteEndpoint.Length == 0 && value.Length > 0)
            {
                RemoteEndpoint = value[0].Display;
            }

            _paths = value;
        }
    }

    /// <summary>The largest frame that may be sent: the smaller of both sides' maximums.</summary>
    public int MaxSendFrame
    {
        get => _maxSendFrame;
        set => _maxSendFrame = value;
    }

    /// <summary>False once Links has decided the Down event; no frame is delivered after that.</summary>
    public bool IsLive => !_gone;

    /// <summary>
    /// Whether its frames may be handed to the router: after its Up event was written (the table
    /// lists it a moment earlier, so sends work as soon as Up is read) and before Down.
    /// </summary>
    public bool IsDeliverable => _announced && !_gone;

    /// <summary>Records that the Up event has been written.</summary>
    public void MarkAnnounced() => _announced = true;

    public void MarkGone() => _gone = true;

    /// <summary>
    /// Sends one frame as a data datagram on the first path, on the caller's thread: copies it
    /// once, behind the type byte, into a pooled buffer, hands that to the kernel with one
    /// sendmsg() that does not wait and returns the buffer at once; nothing is allocated. A datagram the
    /// kernel refuses — an error, or a full socket buffer (WouldBlock) — is a lost datagram, as
    /// on any UDP link: counted, reported Sent. No asynchronous socket call, so the runtime's
    /// socket engine never takes this socket (UdpEndpoint.cs, top comment).
    /// </summary>
    public SendResult Send(ReadOnlySpan<byte> frame, UdpCounters counters)
    {
        if (frame.Length > _maxSendFrame)
        {
            return SendResult.TooLarge;
        }

        if (frame.IsEmpty)
        {
            // No datagram carries an empty frame (README.md); there is nothing to deliver.
            return SendResult.Sent;
        }

        var path = _paths[0];
        var length = frame.Length + Wire.DataHeaderSize;
        var buffer = FrameBuffers.Rent(length);
        try
        {
            buffer[0] = (byte)DatagramType.Data;
            frame.CopyTo(buffer.AsSpan(Wire.DataHeaderSize));
            path.MarkSent();
            Count(SegmentedIo.Send(path.Socket.Socket, buffer.AsSpan(0, length), path.Remote, out _), counters);
            return SendResult.Sent;
        }
        catch (ObjectDisposedException)
        {
            return SendResult.Stopped;
        }
        finally
        {
            FrameBuffers.Return(buffer);
        }
    }

    /// <summary>
    /// Sends a run of frames (<see cref="IFrameRunFeature"/>: frame i at <c>i × stride + 1</c>,
    /// the byte before each free for its type byte) as data datagrams on the first path, on the
    /// caller's thread. Where the socket segments (<see cref="LinkSocket.Segments"/>) up to
    /// <see cref="SegmentedIo.MaxSegments"/> datagrams leave with one sendmsg and the kernel
    /// cuts them; otherwise, or when the kernel refuses that, one sendto per datagram. Losses
    /// are counted as in <see cref="Send"/>.
    /// </summary>
    public SendResult SendRun(Span<byte> run, int stride, UdpCounters counters, Action<LinkPath, int> segmentationRefused)
    {
        if (stride - Wire.DataHeaderSize > _maxSendFrame)
        {
            return SendResult.TooLarge;
        }

        for (var start = 0; start < run.Length; start += stride)
        {
            run[start] = (byte)DatagramType.Data;
        }

        var path = _paths[0];
        path.MarkSent();
        var perCall = Math.Min(SegmentedIo.MaxSegments, SegmentedIo.MaxSegmentedBytes / stride) * stride;
        try
        {
            for (var start = 0; start < run.Length; start += perCall)
            {
                var datagrams = run.Slice(start, Math.Min(perCall, run.Length - start));
                if (!path.Socket.Segments || datagrams.Length <= stride)
                {
                    SendOneByOne(path, datagrams, stride, counters);
                    continue;
                }

                switch (SegmentedIo.SendSegmented(path.Socket.Socket, datagrams, stride, path.Remote, out var unsupported, out var error))
                {
                    case SegmentedIo.Outcome.Done:
                        counters.CountSegmentedSend();
                        break;
                    case SegmentedIo.Outcome.WouldBlock:
                        counters.CountSendBufferFull();
                        break;
                    case SegmentedIo.Outcome.Failed when unsupported:
                        if (path.Socket.StopSegmenting())
                        {
                            segmentationRefused(path, error);
                        }

                        SendOneByOne(path, datagrams, stride, counters);
                        break;
                    default:
                        counters.CountSendError();
                        break;
                }
            }

            return SendResult.Sent;
        }
        catch (ObjectDisposedException)
        {
            return SendResult.Stopped;
        }
    }

    private static void SendOneByOne(LinkPath path, ReadOnlySpan<byte> datagrams, int stride, UdpCounters counters)
    {
        for (var start = 0; start < datagrams.Length; start += stride)
        {
            Count(SegmentedIo.Send(path.Socket.Socket, datagrams.Slice(start, Math.Min(stride, datagrams.Length - start)), path.Remote, out _), counters);
        }
    }

    /// <summary>Counts a datagram the kernel did not take: lost, as on any UDP link.</summary>
    private static void Count(SegmentedIo.Outcome outcome, UdpCounters counters)
    {
        if (outcome == SegmentedIo.Outcome.WouldBlock)
        {
            counters.CountSendBufferFull();
        }
        else if (outcome == SegmentedIo.Outcome.Failed)
        {
            counters.CountSendError();
        }
    }
}

/// <summary>One (local socket, remote socket address) pair a neighbour is reached over.</summary>
internal sealed class LinkPath
{
    private int _heard;
    private int _sent;

    public LinkPath(LinkSocket socket, SocketAddress remote, Neighbour neighbour, long now)
    {
        Socket = socket;
        Remote = remote;
        Neighbour = neighbour;
        Display = LinkSocket.Format(remote);
        LastHeard = now;
        LastSent = now;
    }

    public LinkSocket Socket { get; }

    /// <summary>The remote socket address; never modified (it is a dictionary key).</summary>
    public SocketAddress Remote { get; }

    public Neighbour Neighbour { get; }

    /// <summary>
    /// The source this path counts against under the inbound path limits, or null for a path
    /// to a configured peer (those are not limited).
    /// </summary>
    public SourceKey? InboundSource { get; init; }

    /// <summary>The remote address as people write it.</summary>
    public string Display { get; }

    /// <summary>When Links last saw <see cref="MarkHeard"/> (a TimeProvider timestamp). Links only.</summary>
    public long LastHeard { get; set; }

    /// <summary>When Links last saw <see cref="MarkSent"/> or sent a control datagram here. Links only.</summary>
    public long LastSent { get; set; }

    /// <summary>
    /// Notes that a datagram arrived. The frame paths set a flag rather than read the clock;
    /// Links turns flags into times on its tick. Reading first keeps the cache line clean
    /// when the flag is already set.
    /// </summary>
    public void MarkHeard()
    {
        if (Volatile.Read(ref _heard) == 0)
        {
            Volatile.Write(ref _heard, 1);
        }
    }

    /// <summary>Notes that a data datagram left, as <see cref="MarkHeard"/> does for arrivals.</summary>
    public void MarkSent()
    {
        if (Volatile.Read(ref _sent) == 0)
        {
            Volatile.Write(ref _sent, 1);
        }
    }

    /// <summary>Clears the heard flag and says whether it was set. Links only.</summary>
    public bool TakeHeard() => Interlocked.Exchange(ref _heard, 0) != 0;

    /// <summary>Clears the sent flag and says whether it was set. Links only.</summary>
    public bool TakeSent() => Interlocked.Exchange(ref _sent, 0) != 0;
}

/// <summary>An immutable view of the live neighbours and paths, replaced whole on every change.</summary>
internal sealed class LinkTable
{
    public LinkTable(Neighbour[] all, int socketCount)
    {
        All = all;
        ById = new Dictionary<NeighbourId, Neighbour>(all.Length);
        ByAddress = new Dictionary<RouterAddress, Neighbour>(all.Length);
        ByEndpoint = new Dictionary<SocketAddress, LinkPath>[socketCount];
        for (var i = 0; i < socketCount; i++)
        {
            ByEndpoint[i] = [];
        }

        foreach (var neighbour in all)
        {
            ById.Add(neighbour.Id, neighbour);
            ByAddress.Add(neighbour.Address, neighbour);
            foreach (var path in neighbour.Paths)
            {
                ByEndpoint[path.Socket.Index].Add(path.Remote, path);
            }
        }
    }

    public static LinkTable Empty { get; } = new([], 0);

    public Neighbour[] All { get; }

    public Dictionary<NeighbourId, Neighbour> ById { get; }

    public Dictionary<RouterAddress, Neighbour> ByAddress { get; }

    /// <summary>
    /// Per link socket: remote socket address → path. <see cref="SocketAddress"/> hashes and
    /// compares its bytes, so the receive thread looks up with the one instance it reuses for
    /// every datagram and allocates nothing.
    /// </summary>
    public Dictionary<SocketAddress, LinkPath>[] ByEndpoint { get; }

    /// <summary>The path for a datagram that arrived on socket <paramref name="socketIndex"/> from <paramref name="from"/>.</summary>
    public LinkPath? Find(int socketIndex, SocketAddress from)
    {
        var table = ByEndpoint;
        return (uint)socketIndex < (uint)table.Length && table[socketIndex].TryGetValue(from, out var path) ? path : null;
    }
}
