using System.Buffers.Binary;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Router.Hosting;
using Router.Routing;
using Router.Sdk;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Overlay;

/// <summary>
/// Where IP packets enter and leave the mesh: the bridge between this machine's IP interface
/// (a <see cref="LinkKind.Local"/> netmod with <see cref="IIpInterfaceFeature"/>, e.g. the tun
/// netmod) and the routers that serve the packets' destinations.
/// <list type="bullet">
/// <item>Out: the interface's packets come in one at a time (<see cref="IncomingFrames"/>, on the
///   interface's reader thread when it can); the gateway finds the router serving each destination
///   in the <see cref="PrefixTable"/> (longest match), and gathers consecutive packets for the
///   same router into one batch (<see cref="PacketBatch"/>) of up to <see cref="BatchCapacity"/>
///   bytes or the next hop's frame, whichever is smaller. A batch goes out when the next packet
///   is for another router, when it is full, or after a packet not marked
///   <see cref="InboundFrame.MoreFollows"/> (nothing read or queued behind it) — so an idle
///   packet waits for nobody, and a burst costs one seal per batch. The batch is
///   built in the frame buffer itself and sealed in place for the destination's end-to-end
///   session, then sent like any message (sliced when the next hop's frames are smaller). A
///   batch whose first packet was read behind <see cref="ReceiveHeadroom"/> bytes is built
///   around it, in the buffer it was read into: a batch of one packet (an idle packet, or a
///   64 KiB super-packet) is then never copied.
///   Packets for a router without a session wait, bounded, for the key exchange.</item>
/// <item>In: local delivery hands over each opened batch (<see cref="Receive"/>); a packet goes
///   to the interface only if its destination is served here and its source address belongs to
///   the router that sent it (its overlay address or a prefix it won), so no router can inject
///   packets in another's name.</item>
/// <item>Prefixes: the interface's announced prefixes go to routing (signed into this router's
///   route); the prefixes other routers serve go back to the interface as operating-system
///   routes whenever they change.</item>
/// </list>
/// </summary>
internal sealed partial class PacketGateway
{
    /// <summary>Largest plaintext of a batch with more than one packet.</summary>
    public const int BatchCapacity = 65_536;

    /// <summary>Bytes waiting for a key exchange, per destination router.</summary>
    public const int WaitingBytesPerDestination = 256 * 1024;

    /// <summary>Destination routers with packets waiting for a key exchange.</summary>
    public const int MaxWaitingDestinations = 256;

    // A batch buffer is the frame: header, sealed-message header, the records, the tag.
    private const int PlainStart = FrameHeader.Size + SealedMessage.HeaderLength;
    private const int BufferSize = FrameHeader.Size + SealedMessage.Overhead + PacketBatch.RecordOverhead + ushort.MaxValue;

    /// <summary>
    /// The headroom the gateway asks of its IP interface (<see cref="NetmodContext.ReceiveHeadroom"/>):
    /// a packet read this far into its buffer has room in front for the frame header, the
    /// sealed-message header and its record's length, and becomes its batch's first record in place.
    /// </summary>
    public const int ReceiveHeadroom = PlainStart + PacketBatch.LengthSize;

    private readonly object _gate = new();
    private readonly Dictionary<RouterAddress, Waiting> _waiting = [];
    private readonly RouterAddress _self;
    private readonly RouteTable _routes;
    private readonly PrefixTable _prefixes;
    private readonly SessionService _sessions;
    private readonly RoutingService _routing;
    private readonly byte _hopLimit;
    private readonly ILogger _logger;
    private readonly byte[] _overlayAddress = new byte[16];
    private readonly byte[] _errorFrame = new byte[Unreachable.MaxFrame];
    private readonly Security.Links.TokenBucket _errorBudget = new(rate: 10, burst: 20);
    private Attached? _interface;
    private CancellationTokenSource? _syncStop;
    private int _nextMessageId = Random.Shared.Next();

    public PacketGateway(RouterAddress self, RouteTable routes, PrefixTable prefixes, SessionService sessions, RoutingService routing, byte hopLimit, OverlayCounters counters, ILogger<PacketGateway> logger)
    {
        _self = self;
        _routes = routes;
        _prefixes = prefixes;
        _sessions = sessions;
        _routing = routing;
        _hopLimit = hopLimit;
        Counters = counters;
        _logger = logger;
        OverlayAddress.Write(self, _overlayAddress);
    }

    public OverlayCounters Counters { get; }

    /// <summary>The IP interface in use, or null.</summary>
    public NetmodInstance? Interface => Volatile.Read(ref _interface)?.Instance;

    /// <summary>
    /// Makes <paramref name="instance"/> (started) this router's IP interface: announces its
    /// prefixes and keeps its mesh routes in step. Returns why it cannot be, or null.
    /// </summary>
    public async Task<string?> AttachAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        if (instance.Netmod.GetFeature<IIpInterfaceFeature>() is not { } feature)
        {
            return $"it is a local netmod without the {nameof(IIpInterfaceFeature)} feature";
        }

        CancellationTokenSource stop;
        lock (_gate)
        {
            if (_interface is { } other)
            {
                return $"netmod '{other.Instance.Name}' is already this router's IP interface; only one can run";
            }

            _interface = new Attached(instance, feature);
            _syncStop = stop = new CancellationTokenSource();
        }

        await _routing.SetOwnPrefixesAsync(feature.AnnouncedPrefixes, cancellationToken).ConfigureAwait(false);
        _ = Task.Run(() => SyncMeshPrefixesAsync(instance, feature, stop.Token), CancellationToken.None);
        Log.Attached(_logger, instance.Name, OverlayAddress.For(_self).ToString());
        return null;
    }

    /// <summary>Stops using <paramref name="instance"/> as the IP interface (it is stopping): its prefixes are withdrawn.</summary>
    public async Task DetachAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        CancellationTokenSource? stop;
        lock (_gate)
        {
            if (_interface?.Instance != instance)
            {
                return;
            }

            _interface = null;
            stop = _syncStop;
            _syncStop = null;
        }

        stop?.Cancel();
        stop?.Dispose();
        try
        {
            await _routing.SetOwnPrefixesAsync([], cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            // Routing is stopping too: nothing left to withdraw from.
        }
    }

    /// <summary>Sends the interface's packets into the mesh until its channel completes or the token is cancelled.</summary>
    public async Task RunAsync(NetmodInstance input, CancellationToken cancellationToken)
    {
        var batch = new Batch(FrameBuffers.Rent(BufferSize));
        try
        {
            await IncomingFrames.ConsumeAsync(input.Netmod.Incoming, new OutboundHandler(this, input, batch, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Clear();
            FrameBuffers.Return(batch.Own);
        }
    }

    /// <summary>
    /// One packet from the interface into its batch; the batch goes out unless another packet
    /// follows (what is gathered goes out without waiting for more, unless the interface said
    /// it holds the next packet already, or one is queued).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleOutboundAsync(NetmodInstance input, Batch batch, InboundFrame frame, CancellationToken cancellationToken)
    {
        var moreFollows = frame.MoreFollows;
        input.CountReceived(frame.From, frame.Length);
        var pending = AddAsync(batch, frame, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            await pending.ConfigureAwait(false);
        }

        if (batch.Packets > 0 && !moreFollows)
        {
            await FlushAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Adds one packet from the interface to the batch (sending the batch first when the packet
    /// cannot join it); the frame's buffer is released, or becomes the batch's.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AddAsync(Batch batch, InboundFrame frame, CancellationToken cancellationToken)
    {
        var adopted = false;
        try
        {
            if (!TryClassify(frame.Span, out var owner))
            {
                return;
            }

            var record = PacketBatch.LengthSize + frame.Length;
            if (batch.Packets > 0 && (owner != batch.Destination || batch.Length + record > batch.Capacity))
            {
                await FlushAsync(batch, cancellationToken).ConfigureAwait(false);
            }

            if (batch.Packets == 0)
            {
                batch.Destination = owner;
                batch.Capacity = _routes.TryGetNextHop(owner, out var next)
                    ? Math.Clamp(next.Netmod.MaxFrameSize - FrameHeader.Size - SealedMessage.Overhead, 0, BatchCapacity)
                    : BatchCapacity;
                adopted = batch.TryAdopt(frame);
            }

            if (!adopted)
            {
                batch.MakeRoom(record);
                batch.Length = PacketBatch.Append(batch.Records, batch.Length, frame.Span);
            }

            batch.Packets++;
            batch.Bytes += frame.Length - VirtioNetHeader.Size;
        }
        finally
        {
            if (!adopted)
            {
                frame.Release();
            }
        }
    }

    /// <summary>The router serving a packet's destination; false (counted) when the packet cannot go into the mesh.</summary>
    private bool TryClassify(ReadOnlySpan<byte> frame, out RouterAddress owner)
    {
        owner = default;
        var destination = PacketBatch.Destination(frame);
        if (destination.IsEmpty || frame.Length > VirtioNetHeader.MaxFrameSize)
        {
            Counters.CountDrop(PacketDrop.NotIp);
            return false;
        }

        if (IsMulticastOrBroadcast(destination))
        {
            Counters.CountDrop(PacketDrop.NotUnicast);
            return false;
        }

        if (!_prefixes.Current.TryGetOwner(destination, out owner))
        {
            Counters.CountDrop(PacketDrop.NoRoute);
            if (destination.Length == 16)
            {
                ReportNoRoute(frame[VirtioNetHeader.Size..]);
            }

            return false;
        }

        if (owner == _self)
        {
            Counters.CountDrop(PacketDrop.ToSelf);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Tells this machine at once that an IPv6 destination has no route (<see cref="Unreachable"/>),
    /// at most 10 times a second (burst 20). Only the outbound loop calls it: the scratch frame
    /// and the budget are its own.
    /// </summary>
    private void ReportNoRoute(ReadOnlySpan<byte> packet)
    {
        if (Interface is not { } target || !_errorBudget.TryTake(System.Diagnostics.Stopwatch.GetTimestamp(), System.Diagnostics.Stopwatch.Frequency))
        {
            return;
        }

        var length = Unreachable.TryWriteNoRoute(packet, _overlayAddress, _errorFrame);
        if (length > 0)
        {
            var sent = target.SendAsync(default, _errorFrame.AsMemory(0, length), CancellationToken.None);
            if (sent.IsCompletedSuccessfully && sent.Result == SendResult.Sent)
            {
                Counters.CountUnreachableSent();
            }
            else if (!sent.IsCompleted)
            {
                // Interfaces write synchronously (IIpInterfaceFeature); wait rather than reuse the scratch frame under a write.
                sent.AsTask().GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="address"/> is <paramref name="router"/>'s overlay address. The
    /// sending router of a batch is known from its session, so its own overlay address is
    /// checked against it directly: a packet is taken even before this router's prefix table
    /// has learnt the sender's route.
    /// </summary>
    private static bool IsOverlayAddressOf(RouterAddress router, ReadOnlySpan<byte> address)
    {
        if (address.Length != 16 || BinaryPrimitives.ReadUInt16BigEndian(address) != OverlayAddress.PrefixValue)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[RouterAddress.Length];
        router.Write(bytes);
        return address[2..].SequenceEqual(bytes[..OverlayAddress.AddressBytes]);
    }

    private static bool IsMulticastOrBroadcast(ReadOnlySpan<byte> address) =>
        address.Length == 4 ? (address[0] & 0xf0) == 0xe0 || address.SequenceEqual((ReadOnlySpan<byte>)[255, 255, 255, 255]) : address[0] == 0xff;

    /// <summary>Seals and sends the gathered batch (or queues it for a key exchange); the batch is empty once the returned task completes.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask FlushAsync(Batch batch, CancellationToken cancellationToken)
    {
        try
        {
            var destination = batch.Destination;
            var (length, packets, bytes) = (batch.Length, batch.Packets, batch.Bytes);
            lock (_gate)
            {
                if (_waiting.TryGetValue(destination, out var waiting))
                {
                    // Packets already wait for this router's session: queue behind them, in order.
                    Enqueue(waiting, batch.Records[..length], packets, bytes);
                    return;
                }
            }

            var session = _sessions.GetSendSessionAsync(destination, cancellationToken);
            if (!session.IsCompletedSuccessfully)
            {
                StartWaiting(destination, session, batch.Records[..length], packets, bytes, cancellationToken);
                return;
            }

            if (session.Result is not { } ready)
            {
                Counters.CountDrop(PacketDrop.NoSession, packets);
                return;
            }

            await SealAndSendAsync(ready, destination, batch.Frame, length, packets, bytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            batch.Clear();
        }
    }

    /// <summary>
    /// Seals the batch in place (its records at <see cref="PlainStart"/> of <paramref name="frame"/>,
    /// which is large enough for them, the headers and the tag) and sends the frame to the next hop.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SealAndSendAsync(Session session, RouterAddress destination, Memory<byte> frame, int length, int packets, long bytes, CancellationToken cancellationToken)
    {
        var messageId = unchecked((uint)Interlocked.Increment(ref _nextMessageId));
        var sealedLength = length + SealedMessage.Overhead;
        if (!_sessions.TrySeal(session, messageId, frame.Span.Slice(PlainStart, length), frame.Span.Slice(FrameHeader.Size, sealedLength), FrameKind.Packets))
        {
            // The session reached its message limit as the re-key started; the next batch uses the new one.
            Counters.CountDrop(PacketDrop.NoSession, packets);
            return;
        }

        new FrameHeader(FrameKind.Packets, _hopLimit, destination, _self, messageId, (uint)sealedLength, 0).Write(frame.Span);
        if (!_routes.TryGetNextHop(destination, out var next))
        {
            Counters.CountDrop(PacketDrop.NoRoute, packets);
            return;
        }

        var frameLength = FrameHeader.Size + sealedLength;
        var result = frameLength <= next.Netmod.MaxFrameSize
            ? await next.Netmod.SendAsync(next.Neighbour, frame[..frameLength], cancellationToken).ConfigureAwait(false)
            : await FrameSlicer.SendAsync(next.Netmod, next.Neighbour, frame[..frameLength], 0, cancellationToken).ConfigureAwait(false);
        if (result == SendResult.Sent)
        {
            Counters.CountSent(packets, bytes);
        }
        else
        {
            Counters.CountDrop(PacketDrop.SendFailed, packets);
        }
    }

    /// <summary>
    /// A batch from the mesh, opened (<see cref="LocalDelivery"/>): each packet whose destination
    /// this router serves and whose source belongs to the sending router is written to the IP
    /// interface; the rest are counted and dropped. The interface takes packets synchronously
    /// (see <see cref="IIpInterfaceFeature"/>); the buffer is the caller's again on return.
    /// </summary>
    public void Receive(in FrameHeader header, byte[] batch, int length)
    {
        Counters.CountReceivedBatch();
        if (Volatile.Read(ref _interface) is not { } attached)
        {
            Counters.CountDrop(PacketDrop.NoInterface);
            return;
        }

        var target = attached.Instance;
        var written = false;
        var snapshot = _prefixes.Current;
        var position = 0;
        while (position < length)
        {
            if (!PacketBatch.TryRead(batch.AsSpan(0, length), position, out var start, out var frameLength))
            {
                Counters.CountDrop(PacketDrop.MalformedBatch);
                break;
            }

            position = start + frameLength;
            var frame = batch.AsSpan(start, frameLength);
            var destination = PacketBatch.Destination(frame);
            if (destination.IsEmpty)
            {
                Counters.CountDrop(PacketDrop.NotIp);
                continue;
            }

            if (!snapshot.IsLocal(destination))
            {
                Counters.CountDrop(PacketDrop.NotForThisRouter);
                continue;
            }

            var source = PacketBatch.Source(frame);
            if (!IsOverlayAddressOf(header.Source, source) && (!snapshot.TryGetOwner(source, out var owner) || owner != header.Source))
            {
                Counters.CountDrop(PacketDrop.SpoofedSource);
                continue;
            }

            var sent = target.SendAsync(default, batch.AsMemory(start, frameLength), CancellationToken.None);
            var result = sent.IsCompletedSuccessfully ? sent.Result : sent.AsTask().GetAwaiter().GetResult();
            if (result == SendResult.Sent)
            {
                Counters.CountReceived(frameLength - VirtioNetHeader.Size);
                written = true;
            }
            else
            {
                Counters.CountDrop(PacketDrop.InterfaceRefused);
            }
        }

        if (written)
        {
            // What the machine answered at once goes into the mesh from this thread, without
            // waking the interface's reader (see the feature).
            attached.Feature.OnPacketsWritten();
        }
    }

    private void StartWaiting(RouterAddress destination, ValueTask<Session?> session, ReadOnlySpan<byte> records, int packets, long bytes, CancellationToken cancellationToken)
    {
        Waiting waiting;
        lock (_gate)
        {
            if (_waiting.Count >= MaxWaitingDestinations)
            {
                Counters.CountDrop(PacketDrop.WaitingFull, packets);
                return;
            }

            waiting = new Waiting();
            _waiting.Add(destination, waiting);
            Enqueue(waiting, records, packets, bytes);
        }

        _ = SendWhenReadyAsync(destination, waiting, session, cancellationToken);
    }

    /// <summary>Copies a batch's records into the queue of a router whose session is being made. Under the gate.</summary>
    private void Enqueue(Waiting waiting, ReadOnlySpan<byte> records, int packets, long bytes)
    {
        if (waiting.Bytes + records.Length > WaitingBytesPerDestination)
        {
            Counters.CountDrop(PacketDrop.WaitingFull, packets);
            return;
        }

        var copy = FrameBuffers.Rent(PlainStart + records.Length + SealedMessage.TagLength);
        records.CopyTo(copy.AsSpan(PlainStart));
        waiting.Batches.Enqueue(new WaitingBatch(copy, records.Length, packets, bytes));
        waiting.Bytes += records.Length;
    }

    /// <summary>Waits for the key exchange, then sends (or drops, counted) what queued meanwhile, in order.</summary>
    private async Task SendWhenReadyAsync(RouterAddress destination, Waiting waiting, ValueTask<Session?> pending, CancellationToken cancellationToken)
    {
        Session? session = null;
        try
        {
            session = await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }

        while (true)
        {
            WaitingBatch next;
            lock (_gate)
            {
                if (!waiting.Batches.TryDequeue(out next))
                {
                    _waiting.Remove(destination);
                    return;
                }

                waiting.Bytes -= next.Length;
            }

            try
            {
                if (session is null || cancellationToken.IsCancellationRequested)
                {
                    Counters.CountDrop(PacketDrop.NoSession, next.Packets);
                }
                else
                {
                    await SealAndSendAsync(session, destination, next.Buffer, next.Length, next.Packets, next.Bytes, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                FrameBuffers.Return(next.Buffer);
            }
        }
    }

    /// <summary>Keeps the interface's routes equal to the prefixes other routers serve.</summary>
    private async Task SyncMeshPrefixesAsync(NetmodInstance instance, IIpInterfaceFeature feature, CancellationToken cancellationToken)
    {
        IReadOnlyList<IPNetwork>? installed = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var changed = _prefixes.Changed;
                var wanted = _prefixes.Current.MeshPrefixes;
                if (installed is null || !installed.SequenceEqual(wanted))
                {
                    try
                    {
                        await feature.SetMeshPrefixesAsync(wanted, cancellationToken).ConfigureAwait(false);
                        installed = wanted;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Log.MeshPrefixesFailed(_logger, instance.Name, e.Message);
                    }
                }

                await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The batch being gathered by the outbound loop. Its frame is built in the gateway's own
    /// buffer, reused for every batch — or, when the batch's first packet was read behind
    /// <see cref="ReceiveHeadroom"/>, in that packet's buffer, around the packet (adopted), until
    /// a packet that does not fit there moves the records to the own buffer.
    /// </summary>
    private sealed class Batch(byte[] own)
    {
        /// <summary>The buffer the frame is built in: the own one or an adopted one.</summary>
        public byte[] Buffer { get; private set; } = own;

        /// <summary>The gateway's own buffer, rented once for the loop's lifetime.</summary>
        public byte[] Own { get; } = own;

        /// <summary>Where the frame starts in <see cref="Buffer"/>.</summary>
        public int Start { get; private set; }

        /// <summary>The frame, from its start to the end of the buffer.</summary>
        public Memory<byte> Frame => Buffer.AsMemory(Start);

        /// <summary>Where the records go: the plaintext of the sealed message, to the end of the buffer.</summary>
        public Span<byte> Records => Buffer.AsSpan(Start + PlainStart);

        public RouterAddress Destination { get; set; }

        public int Capacity { get; set; }

        public int Length { get; set; }

        public int Packets { get; set; }

        public long Bytes { get; set; }

        /// <summary>
        /// Makes the empty batch's frame the buffer <paramref name="frame"/> was read into, the
        /// frame its first record, in place. False (nothing changed) when the frame was read
        /// without the headroom for that, or without room for the tag behind it; the caller
        /// keeps the frame then, the batch otherwise.
        /// </summary>
        public bool TryAdopt(in InboundFrame frame)
        {
            if (frame.Offset < ReceiveHeadroom || frame.Offset + frame.Length + SealedMessage.TagLength > frame.Buffer.Length)
            {
                return false;
            }

            Buffer = frame.Buffer;
            Start = frame.Offset - ReceiveHeadroom;
            PacketBatch.WriteLength(Records, frame.Length);
            Length = PacketBatch.LengthSize + frame.Length;
            return true;
        }

        /// <summary>Makes sure <paramref name="record"/> more bytes of records fit, with the tag behind them: moves the records to the own buffer when an adopted one is too small.</summary>
        public void MakeRoom(int record)
        {
            if (Buffer == Own || Start + PlainStart + Length + record + SealedMessage.TagLength <= Buffer.Length)
            {
                return;
            }

            Records[..Length].CopyTo(Own.AsSpan(PlainStart));
            FrameBuffers.Return(Buffer);
            (Buffer, Start) = (Own, 0);
        }

        /// <summary>Empties the batch; an adopted buffer goes back to the pool.</summary>
        public void Clear()
        {
            if (Buffer != Own)
            {
                FrameBuffers.Return(Buffer);
                (Buffer, Start) = (Own, 0);
            }

            (Length, Packets, Bytes) = (0, 0, 0);
        }
    }

    /// <summary>The IP interface in use and its feature.</summary>
    private sealed record Attached(NetmodInstance Instance, IIpInterfaceFeature Feature);

    private readonly record struct WaitingBatch(byte[] Buffer, int Length, int Packets, long Bytes);

    /// <summary>Batches for one router, waiting for its end-to-end session. Guarded by the gateway's gate.</summary>
    private sealed class Waiting
    {
        public Queue<WaitingBatch> Batches { get; } = new();

        public int Bytes { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Netmod '{Name}' is the IP interface; this router's overlay address is {Address}")]
        public static partial void Attached(ILogger logger, string name, string address);

        [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Netmod '{Name}' could not install the mesh's prefix routes: {Reason}")]
        public static partial void MeshPrefixesFailed(ILogger logger, string name, string reason);
    }

    /// <summary>The interface's packets into the gateway, gathered in one batch.</summary>
    private sealed class OutboundHandler(PacketGateway owner, NetmodInstance input, Batch batch, CancellationToken cancellationToken) : IFrameHandler
    {
        public ValueTask HandleAsync(InboundFrame frame) => owner.HandleOutboundAsync(input, batch, frame, cancellationToken);
    }
}
