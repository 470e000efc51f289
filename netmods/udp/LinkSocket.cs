using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Router.Netmods.Udp;

/// <summary>
/// One bound UDP socket: a link socket from a <c>Listen</c> entry, or the discovery socket.
/// Its receive thread is the only reader; any thread may send on it.
/// </summary>
/// <remarks>
/// Only ever used with synchronous calls: the runtime then never registers it with its socket
/// engine, whose epoll thread would otherwise wake, and wake a pool thread, for every datagram
/// (UdpEndpoint.cs, top comment). Once bound it blocks (made so underneath Socket, by
/// <see cref="SegmentedIo.MakeBlocking"/>): the receive thread waits inside recvmsg(), one
/// system call per wake-up, while every send passes MSG_DONTWAIT and never waits
/// (<see cref="SegmentedIo.Send"/>). <see cref="Dispose"/> shuts it down first, which ends a
/// recvmsg() that waits.
/// </remarks>
internal sealed class LinkSocket : IDisposable
{
    // Linux SOL_SOCKET options that set a buffer past net.core.{r,w}mem_max; they need
    // CAP_NET_ADMIN. Not in SocketOptionName, hence the raw numbers.
    private const int SolSocket = 1;
    private const int SoSndBufForce = 32;
    private const int SoRcvBufForce = 33;

    private static readonly IPEndPoint AnyV4 = new(IPAddress.Any, 0);
    private static readonly IPEndPoint AnyV6 = new(IPAddress.IPv6Any, 0);

    // Written by the receive thread around each delivery, read by Links before a Down event
    // (see UdpEndpoint.Deliver); Interlocked.Exchange on it is the full fence that needs.
    private Neighbour? _delivering;
    private int _segments; // 1 while runs leave as segmented sends

    private LinkSocket(int index, Socket socket, bool isDiscovery)
    {
        Index = index;
        Socket = socket;
        IsDiscovery = isDiscovery;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        Family = socket.AddressFamily;
        Wildcard = LocalEndPoint.Address.Equals(IPAddress.Any) || LocalEndPoint.Address.Equals(IPAddress.IPv6Any);
        DualStack = Family == AddressFamily.InterNetworkV6 && Wildcard && socket.DualMode;
    }

    /// <summary>Position among the endpoint's sockets; indexes the per-socket path tables.</summary>
    public int Index { get; }

    public Socket Socket { get; }

    /// <summary>True for the discovery socket, which carries beacons only.</summary>
    public bool IsDiscovery { get; }

    /// <summary>The address bound, with the port the kernel chose for port 0.</summary>
    public IPEndPoint LocalEndPoint { get; }

    public AddressFamily Family { get; }

    /// <summary>Bound to 0.0.0.0 or [::].</summary>
    public bool Wildcard { get; }

    /// <summary>An IPv6 socket bound to [::] that also carries IPv4 (as v4-mapped addresses).</summary>
    public bool DualStack { get; }

    /// <summary>What the kernel granted for SO_RCVBUF (as it reports it: twice the usable size).</summary>
    public int ReceiveBufferBytes { get; private set; }

    /// <summary>What the kernel granted for SO_SNDBUF.</summary>
    public int SendBufferBytes { get; private set; }

    /// <summary>How the buffers were set, for the log.</summary>
    public string BufferMethod { get; private set; } = "kernel default";

    /// <summary>
    /// Whether runs of frames leave as one segmented send (UDP_SEGMENT): on with <c>Offload</c>
    /// until the kernel refuses one (<see cref="StopSegmenting"/>).
    /// </summary>
    public bool Segments => Volatile.Read(ref _segments) == 1;

    /// <summary>Whether the kernel coalesces arriving datagrams for this socket (UDP_GRO, with <c>Offload</c>).</summary>
    public bool Coalesces { get; private set; }

    /// <summary>Sends runs one datagram at a time from now on. True for the call that turned segmentation off.</summary>
    public bool StopSegmenting() => Interlocked.Exchange(ref _segments, 0) == 1;

    /// <summary>
    /// Binds a socket; with <paramref name="offload"/> it segments runs and coalesces receives
    /// where the kernel can. Throws <see cref="InvalidOperationException"/> naming the address
    /// when the kernel refuses (address in use, no such address).
    /// </summary>
    public static LinkSocket Bind(int index, IPEndPoint endpoint, int bufferBytes, bool isDiscovery, bool offload = false)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Socket's own calls (bind, options) never wait; the descriptor is made blocking
            // below, once bound (see the remarks above).
            socket.Blocking = false;
            if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (isDiscovery)
            {
                // Several routers on one machine all hear the LAN's beacons.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                socket.EnableBroadcast = true;
            }

            var link = new LinkSocket(index, BindOrThrow(socket, endpoint), isDiscovery);
            var blocking = SegmentedIo.MakeBlocking(socket);
            if (blocking != 0)
            {
                throw new InvalidOperationException($"cannot make the UDP socket on {link} blocking: {SegmentedIo.Describe(blocking)}");
            }

            link.SetBuffers(bufferBytes);
            if (offload)
            {
                link._segments = 1;
                link.Coalesces = SegmentedIo.EnableReceiveCoalescing(socket);
            }

            return link;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Whether this socket can send to <paramref name="address"/> (without trying).</summary>
    public bool CanReach(IPAddress address)
    {
        if (IsDiscovery)
        {
            return false;
        }

        var bound = LocalEndPoint.Address;
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            return Family == AddressFamily.InterNetwork
                ? Wildcard || IPAddress.IsLoopback(bound) == IPAddress.IsLoopback(address)
                : DualStack;
        }

        // A socket bound to one IPv6 address reaches only addresses of its kind from there.
        return Family == AddressFamily.InterNetworkV6
            && (Wildcard || (IPAddress.IsLoopback(bound) == IPAddress.IsLoopback(address) && bound.IsIPv6LinkLocal == address.IsIPv6LinkLocal));
    }

    /// <summary>The socket address to send to <paramref name="endpoint"/> from this socket, as its receives report it back.</summary>
    public SocketAddress AddressFor(IPEndPoint endpoint)
    {
        var target = Family == AddressFamily.InterNetworkV6 && endpoint.AddressFamily == AddressFamily.InterNetwork
            ? new IPEndPoint(endpoint.Address.MapToIPv6(), endpoint.Port)
            : endpoint;
        return target.Serialize();
    }

    /// <summary>Marks the start of a delivery from <paramref name="neighbour"/>; a full fence (see UdpEndpoint.Deliver).</summary>
    public void EnterDelivery(Neighbour neighbour) => Interlocked.Exchange(ref _delivering, neighbour);

    public void LeaveDelivery() => Volatile.Write(ref _delivering, null);

    /// <summary>Whether the receive thread is delivering a frame from <paramref name="neighbour"/> right now.</summary>
    public bool IsDelivering(Neighbour neighbour) => ReferenceEquals(Volatile.Read(ref _delivering), neighbour);

    public override string ToString() => Format(LocalEndPoint);

    /// <summary>A socket address as people write it; v4-mapped addresses shown as IPv4.</summary>
    public static string Format(IPEndPoint endpoint) =>
        endpoint.Address.IsIPv4MappedToIPv6
            ? $"{endpoint.Address.MapToIPv4()}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}"
            : endpoint.ToString();

    /// <summary>The endpoint a socket address names.</summary>
    public static IPEndPoint ToEndPoint(SocketAddress address) =>
        (IPEndPoint)(address.Family == AddressFamily.InterNetworkV6 ? AnyV6 : AnyV4).Create(address);

    /// <summary>A socket address as people write it.</summary>
    public static string Format(SocketAddress address)
    {
        try
        {
            return Format(ToEndPoint(address));
        }
        catch (Exception e) when (e is ArgumentException or SocketException)
        {
            return $"(unreadable {address.Family} address)";
        }
    }

    /// <summary>A copy that stays valid after the receive thread reuses its address buffer.</summary>
    public static SocketAddress Clone(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    /// <summary>Shuts the socket down, which ends a recvmsg() waiting on it (with 0 bytes), then closes it.</summary>
    public void Dispose()
    {
        try
        {
            // On an unconnected UDP socket the kernel answers ENOTCONN, but marks the socket
            // shut down and wakes its readers all the same.
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        Socket.Dispose();
    }

    private static Socket BindOrThrow(Socket socket, IPEndPoint endpoint)
    {
        try
        {
            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException e)
        {
            throw new InvalidOperationException($"udp cannot bind {Format(endpoint)}: {e.Message}", e);
        }
    }

    private void SetBuffers(int bytes)
    {
        if (bytes > 0)
        {
            // The plain options are capped at net.core.rmem_max / wmem_max (often 208 KiB,
            // which drops datagrams under load); the FORCE variants are not, when we may use them.
            var forcedReceive = TryForce(SoRcvBufForce, bytes);
            var forcedSend = TryForce(SoSndBufForce, bytes);
            if (!forcedReceive)
            {
                Socket.ReceiveBufferSize = bytes;
            }

            if (!forcedSend)
            {
                Socket.SendBufferSize = bytes;
            }

            BufferMethod = (forcedReceive, forcedSend) switch
            {
                (true, true) => "SO_RCVBUFFORCE/SO_SNDBUFFORCE",
                (false, false) => "SO_RCVBUF/SO_SNDBUF, capped by net.core.rmem_max/wmem_max",
                _ => "partly forced",
            };
        }

        ReceiveBufferBytes = Socket.ReceiveBufferSize;
        SendBufferBytes = Socket.SendBufferSize;
    }

    private bool TryForce(int option, int bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        Span<byte> value = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(value, bytes);
        try
        {
            Socket.SetRawSocketOption(SolSocket, option, value);
            return true;
        }
        catch (SocketException)
        {
            // EPERM without CAP_NET_ADMIN: fall back to the capped option.
            return false;
        }
    }
}
