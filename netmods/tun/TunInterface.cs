using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>
/// The tun netmod: a Linux TUN interface that makes the mesh an IP network for this machine's
/// programs. Packets the machine routes into the interface come out of <see cref="Incoming"/>;
/// packets from the mesh given to <see cref="SendAsync"/> go into the machine. Frames are a
/// <see cref="VirtioNetHeader"/> and an IP packet (see <see cref="IIpInterfaceFeature"/>).
/// </summary>
/// <remarks>
/// <para>Start creates the interface, sets its MTU and queue length, brings it up and assigns
/// the router's overlay address (<c>fd6d::/16</c>, so every overlay address routes into the
/// interface) and the configured addresses, all synchronously on the calling thread: a caller
/// inside another network namespace gets everything there. Stop closes the interface, which
/// makes the kernel remove it with its addresses and routes.</para>
/// <para>There are no neighbours: <see cref="NeighbourEvents"/> never carries an event, frames
/// are tagged with neighbour 0, and the neighbour argument of <see cref="SendAsync"/> is
/// ignored. Thread-safe, as <see cref="Netmod"/> requires.</para>
/// </remarks>
public sealed class TunInterface : Netmod, IIpInterfaceFeature, INetmodCountersFeature
{
    private const int IncomingCapacity = 1024;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(5);

    private readonly NetmodContext _context;
    private readonly TunOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<InboundFrame> _incoming;
    private readonly Channel<NeighbourEvent> _events = Channel.CreateUnbounded<NeighbourEvent>();
    private readonly Lock _stateLock = new();
    private readonly Lock _routeLock = new();
    private readonly HashSet<IPNetwork> _routes = [];
    private volatile InterfaceState _state;
    private TunDevice? _device;
    private Rtnetlink? _netlink;
    private PacketReader? _reader;
    private FrameWriter? _writer;
    private Task? _stopTask;

    internal TunInterface(NetmodContext context, TunOptions options)
    {
        _context = context;
        _options = options;
        _logger = context.LoggerFactory.CreateLogger("Router.Netmods.Tun");
        Overlay = OverlayAddress.For(context.LocalAddress);
        Capabilities = new NetmodCapabilities(TunFactory.NetmodName, VirtioNetHeader.MaxFrameSize, BroadcastCapable: false, LinkKind.Local);

        // One writer (the reader thread), which waits when the channel is full. The router's
        // packet gateway runs inside the reader's write (FrameChannel): an idle packet is read,
        // batched, sealed and sent on by one thread, with no wake-up of another (~0.1 ms each,
        // docs/PERFORMANCE.md) and no continuation in between. A gateway that has to wait (a
        // full queue to the next hop) hands the thread back; the reader then fills the channel
        // and waits for room.
        _incoming = new FrameChannel(IncomingCapacity);
    }

    private enum InterfaceState
    {
        Created,
        Running,
        Stopped,
    }

    /// <inheritdoc />
    public override NetmodCapabilities Capabilities { get; }

    /// <inheritdoc />
    public override ChannelReader<InboundFrame> Incoming => _incoming.Reader;

    /// <inheritdoc />
    public override ChannelReader<NeighbourEvent> NeighbourEvents => _events.Reader;

    /// <inheritdoc />
    public IReadOnlyList<IPNetwork> AnnouncedPrefixes => _options.Prefixes;

    /// <summary>This router's overlay address, assigned to the interface with prefix length 16.</summary>
    internal IPAddress Overlay { get; }

    /// <summary>The interface's name.</summary>
    internal string DeviceName => _device?.Name ?? _options.Name;

    /// <summary>Everything counted so far.</summary>
    internal TunCounters Counters { get; } = new();

    /// <summary>The mesh prefixes routed through the interface now.</summary>
    internal IReadOnlyList<IPNetwork> InstalledRoutes
    {
        get
        {
            lock (_routeLock)
            {
                return [.. _routes];
            }
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, long>> GetCounters() => Counters.Snapshot();

    /// <inheritdoc />
    /// <remarks>
    /// Completes synchronously: every kernel object is created on the calling thread before it
    /// returns. Throws <see cref="IOException"/> with one sentence when the interface cannot be
    /// set up (no permission, the name taken, no TUN driver); nothing is left behind then.
    /// </remarks>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_state == InterfaceState.Running)
            {
                return Task.CompletedTask;
            }

            if (_state == InterfaceState.Stopped)
            {
                throw new InvalidOperationException("The tun netmod has been stopped; create a new one to start again.");
            }

            cancellationToken.ThrowIfCancellationRequested();
            TunDevice? device = null;
            Rtnetlink? netlink = null;
            try
            {
                device = OpenDevice();
                netlink = Rtnetlink.Open();
                var name = device.Name;
                Require(netlink.ConfigureLink(device.Index, _options.Mtu, _options.TxQueueLength), $"cannot set MTU {_options.Mtu} and txqueuelen {_options.TxQueueLength} on {name}");
                Require(netlink.SetUp(device.Index), $"cannot bring {name} up");
                Require(netlink.AddAddress(device.Index, Overlay, OverlayAddress.PrefixLength), $"cannot assign the overlay address {Overlay}/{OverlayAddress.PrefixLength} to {name}");
                foreach (var address in _options.Addresses)
                {
                    Require(netlink.AddAddress(device.Index, address.Address, address.PrefixLength), $"cannot assign {address} (Addresses) to {name}");
                }

                _writer = new FrameWriter(device, device.HasVirtioHeader, Counters, _logger, _context.Time, name);
                _reader = PacketReader.Start(device, _incoming, Counters, _logger, _context.Time, _options.Mtu, _context.ReceiveHeadroom);
            }
            catch
            {
                // Closing the device removes it with whatever was assigned to it.
                netlink?.Dispose();
                device?.Dispose();
                _writer = null;
                throw;
            }

            _device = device;
            _netlink = netlink;
            _state = InterfaceState.Running;
            var addresses = string.Concat(_options.Addresses.Select(a => $", {a}"));
            var gro = device.HasNapi ? $"{_options.GroTimeoutMicroseconds} µs" : "off";
            Log.DeviceUp(_logger, device.Name, device.Index, _options.Mtu, _options.TxQueueLength, device.HasVirtioHeader, gro, Overlay.ToString(), addresses);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Opens the device, with a NAPI context and its GRO timeout when
    /// <see cref="TunOptions.GroTimeoutMicroseconds"/> asks for them (README, "Receive
    /// coalescing"); without both when either cannot be had, saying why.
    /// </summary>
    private TunDevice OpenDevice()
    {
        if (_options.GroTimeoutMicroseconds == 0)
        {
            return TunDevice.Open(_options.DevicePath, _options.Name, _options.Offload, napi: false);
        }

        var device = TunDevice.Open(_options.DevicePath, _options.Name, _options.Offload, napi: true);
        if (!device.HasNapi)
        {
            Log.CoalescingUnavailable(_logger, device.Name, "the kernel refused IFF_NAPI (Linux has it from 4.15 on)");
            return device;
        }

        string problem;
        try
        {
            if (ReceiveCoalescing.TrySetTimeout(_options.InterfacesPath, device, _options.GroTimeoutMicroseconds, out problem))
            {
                return device;
            }
        }
        catch
        {
            device.Dispose();
            throw;
        }

        // Without the timeout GRO merges nothing and the NAPI context only adds work: the
        // device is made again without it (nothing is assigned to it yet).
        Log.CoalescingUnavailable(_logger, device.Name, problem);
        device.Dispose();
        return Reopen();
    }

    /// <summary>
    /// Opens the device again, without NAPI, right after closing it. A process forked meanwhile
    /// by another thread of this process holds a copy of the closed descriptor until it execs
    /// (close-on-exec), and the kernel keeps the interface, name and all, until then: a name
    /// still in use is tried again for up to a second before it counts.
    /// </summary>
    private TunDevice Reopen()
    {
        var deadline = Environment.TickCount64 + 1000;
        while (true)
        {
            try
            {
                return TunDevice.Open(_options.DevicePath, _options.Name, _options.Offload, napi: false);
            }
            catch (IOException) when (Environment.TickCount64 < deadline)
            {
                Thread.Sleep(20);
            }
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Any peer at all: the interface links to no other router.</exception>
    public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peers);
        cancellationToken.ThrowIfCancellationRequested();
        if (_state == InterfaceState.Stopped)
        {
            throw new InvalidOperationException("The tun netmod has been stopped; it takes no more peers.");
        }

        if (peers.Count > 0)
        {
            throw new ArgumentException("The tun netmod is this machine's IP interface and links to no other router; it takes no peers.", nameof(peers));
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Writes at once on the calling thread (see <see cref="FrameWriter"/>). A frame that is not
    /// a usable IP packet, or that the kernel refuses, is counted and dropped and still returns
    /// <see cref="SendResult.Sent"/>, as a lost packet would.
    /// </remarks>
    public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var writer = _writer;
        if (_state != InterfaceState.Running || writer is null)
        {
            return new ValueTask<SendResult>(SendResult.Stopped);
        }

        return new ValueTask<SendResult>(writer.Write(frame.Span));
    }

    /// <inheritdoc />
    /// <remarks>There are no neighbours, so this sends nothing and returns 0.</remarks>
    public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
        new(0);

    /// <inheritdoc />
    /// <remarks>
    /// Reads the device on the calling thread while the reader sleeps and the router has caught
    /// up (see <see cref="PacketReader.ReadAfterWrites"/>): an answer the kernel made inside the
    /// write goes into the mesh at once, without a wake-up of the reader. Does nothing before
    /// start or after stop.
    /// </remarks>
    public void OnPacketsWritten()
    {
        if (_state == InterfaceState.Running)
        {
            _reader?.ReadAfterWrites();
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Adds and removes routes by netlink on the socket opened at start, so they land in the
    /// interface's network namespace whatever thread calls. Only this netmod's own routes
    /// (protocol <see cref="Rtnetlink.RouteProtocol"/>) are removed; a prefix whose route could
    /// not be changed is logged, counted (<c>routeErrors</c>) and tried again on the next call.
    /// Does nothing before start or after stop.
    /// </remarks>
    public ValueTask SetMeshPrefixesAsync(IReadOnlyList<IPNetwork> prefixes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefixes);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_routeLock)
        {
            if (_state != InterfaceState.Running || _netlink is not { } netlink || _device is not { } device)
            {
                return ValueTask.CompletedTask;
            }

            var wanted = new HashSet<IPNetwork>(prefixes);
            var added = 0;
            var removed = 0;
            foreach (var prefix in _routes.Where(p => !wanted.Contains(p)).ToList())
            {
                var result = netlink.DeleteRoute(device.Index, prefix);
                if (result.Succeeded || result.Errno == Errno.ESrch)
                {
                    // ESRCH: someone removed it already; either way it is gone.
                    _routes.Remove(prefix);
                    removed++;
                    Log.RouteRemoved(_logger, prefix.ToString(), device.Name);
                }
                else
                {
                    Counters.CountRouteError();
                    Log.RouteRemoveFailed(_logger, prefix.ToString(), device.Name, result.ToString());
                }
            }

            foreach (var prefix in prefixes.Distinct())
            {
                if (_routes.Contains(prefix))
                {
                    continue;
                }

                var result = netlink.AddRoute(device.Index, prefix);
                if (result.Succeeded)
                {
                    _routes.Add(prefix);
                    added++;
                    Log.RouteAdded(_logger, prefix.ToString(), device.Name);
                }
                else
                {
                    Counters.CountRouteError();
                    var error = result.Errno == Errno.EExist ? $"{result}: a route to it with the same metric exists already" : result.ToString();
                    Log.RouteAddFailed(_logger, prefix.ToString(), device.Name, error);
                }
            }

            if (added + removed > 0)
            {
                Log.RoutesChanged(_logger, device.Name, _routes.Count, added, removed);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_stateLock)
        {
            if (_stopTask is null)
            {
                _state = InterfaceState.Stopped;
                _stopTask = Stop();
            }

            return _stopTask;
        }
    }

    private static void Require(NetlinkResult result, string what)
    {
        if (!result.Succeeded)
        {
            var hint = result.Errno == Errno.EAcces ? " (is IPv6 switched off? see net.ipv6.conf.*.disable_ipv6)" : string.Empty;
            throw new IOException($"{what}: {result}{hint}.");
        }
    }

    private Task Stop()
    {
        try
        {
            if (_reader is { } reader && !reader.Stop(StopTimeout))
            {
                Log.ReaderStopTimedOut(_logger, DeviceName, StopTimeout.TotalSeconds);
            }

            lock (_routeLock)
            {
                _netlink?.Dispose();
                _routes.Clear();
            }

            // The interface is not persistent: closing its only descriptor (once no write is
            // using it) makes the kernel remove it, and with it its addresses and every route
            // through it. Nothing is removed one by one.
            if (_device is { } device)
            {
                device.Dispose();
                Log.DeviceClosed(_logger, device.Name);
            }
        }
        finally
        {
            _incoming.Writer.TryComplete();
            _events.Writer.TryComplete();
        }

        return Task.CompletedTask;
    }
}
