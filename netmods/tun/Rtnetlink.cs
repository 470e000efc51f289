using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Router.Netmods.Tun;

/// <summary>The kernel's answer to one netlink request: 0 or an errno, and its extended-ack text if it gave one.</summary>
/// <param name="Errno">0 for success, otherwise the errno.</param>
/// <param name="KernelMessage">The kernel's own explanation (NLMSGERR_ATTR_MSG), or null.</param>
internal readonly record struct NetlinkResult(int Errno, string? KernelMessage)
{
    /// <summary>Whether the request succeeded.</summary>
    public bool Succeeded => Errno == 0;

    /// <summary>The failure in words, for a message: the errno's text and the kernel's explanation.</summary>
    public override string ToString() => KernelMessage is { Length: > 0 } detail
        ? $"{Tun.Errno.Describe(Errno)} ({detail})"
        : Tun.Errno.Describe(Errno);
}

/// <summary>
/// The netmod's rtnetlink socket: sets the interface's MTU, queue length and state, assigns
/// addresses and adds and removes routes, without iproute2. Every request asks for an ack,
/// and the ack is checked.
/// </summary>
/// <remarks>
/// A netlink socket belongs to the network namespace it was created in, whichever thread uses
/// it later, so the netmod opens one at start (on the caller's thread, in the caller's
/// namespace) and keeps it: routes changed later from thread-pool threads still land beside
/// the device. One request at a time (a lock); the socket is blocking with a 5 s receive
/// timeout, so a kernel that never answered could not hang a caller.
/// </remarks>
internal sealed unsafe class Rtnetlink : IDisposable
{
    /// <summary>The routing protocol number marking the netmod's routes (<c>ip route</c> shows <c>proto 109</c>).</summary>
    public const byte RouteProtocol = 0x6d;

    private const ushort NlmsgError = 2;
    private const ushort RtmNewLink = 16;
    private const ushort RtmNewAddr = 20;
    private const ushort RtmNewRoute = 24;
    private const ushort RtmDelRoute = 25;

    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFExcl = 0x200;
    private const ushort NlmFCreate = 0x400;
    private const ushort NlmFCapped = 0x100;
    private const ushort NlmFAckTlvs = 0x200;
    private const ushort NlaFNested = 0x8000;
    private const ushort NlmsgerrAttrMsg = 1;

    private const ushort IflaMtu = 4;
    private const ushort IflaTxQLen = 13;
    private const ushort IflaAfSpec = 26;
    private const ushort IflaInet6AddrGenMode = 8;
    private const byte In6AddrGenModeNone = 1;
    private const uint IffUp = 0x1;

    private const ushort IfaAddress = 1;
    private const ushort IfaLocal = 2;
    private const ushort IfaFlags = 8;
    private const uint IfaFNoDad = 0x02;

    private const ushort RtaDst = 1;
    private const ushort RtaOif = 4;
    private const byte RtTableMain = 254;
    private const byte RtScopeUniverse = 0;
    private const byte RtScopeLink = 253;
    private const byte RtnUnicast = 1;

    private const int AfUnspec = 0;
    private const int AfInet = 2;
    private const int AfInet6 = 10;

    private const int HeaderSize = 16;
    private const int RequestBufferSize = 256;
    private const int ReceiveBufferSize = 8192;

    private readonly FileDescriptor _socket;
    private readonly Lock _lock = new();
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferSize];
    private uint _sequence;

    private Rtnetlink(FileDescriptor socket) => _socket = socket;

    /// <summary>Opens an rtnetlink socket in the calling thread's network namespace. Throws <see cref="IOException"/>.</summary>
    public static Rtnetlink Open()
    {
        var fd = Libc.Socket(Libc.AfNetlink, Libc.SockRaw | Libc.SockCloExec, Libc.NetlinkRoute);
        if (fd < 0)
        {
            throw new IOException($"cannot open a netlink socket: {Errno.Describe(Errno.Last)}.");
        }

        var socket = new FileDescriptor(fd);
        try
        {
            // Extended acks carry the kernel's reason for a refusal; capped acks leave out the
            // copy of our request, so answers stay small.
            var one = 1;
            Libc.SetSockOpt(fd, Libc.SolNetlink, Libc.NetlinkExtAck, &one, sizeof(int));
            Libc.SetSockOpt(fd, Libc.SolNetlink, Libc.NetlinkCapAck, &one, sizeof(int));

            // struct timeval { long tv_sec; long tv_usec; }
            var timeout = stackalloc long[2] { 5, 0 };
            if (Libc.SetSockOpt(fd, Libc.SolSocket, Libc.SoRcvTimeo, timeout, 2 * sizeof(long)) < 0)
            {
                throw new IOException($"cannot set a timeout on the netlink socket: {Errno.Describe(Errno.Last)}.");
            }

            // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }: pid 0, the kernel picks.
            var address = stackalloc byte[12];
            new Span<byte>(address, 12).Clear();
            BitConverter.TryWriteBytes(new Span<byte>(address, 2), (ushort)Libc.AfNetlink);

            if (Libc.Bind(fd, address, 12) < 0)
            {
                throw new IOException($"cannot bind the netlink socket: {Errno.Describe(Errno.Last)}.");
            }

            return new Rtnetlink(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets the interface's MTU and transmit queue length, and switches off its automatic IPv6
    /// link-local address (addr_gen_mode none): the mesh carries no link-local traffic, and the
    /// address would send router solicitations into it. Must precede <see cref="SetUp"/>.
    /// </summary>
    public NetlinkResult ConfigureLink(int index, int mtu, int txQueueLength)
    {
        Span<byte> buffer = stackalloc byte[RequestBufferSize];
        var request = new NetlinkRequest(buffer, RtmNewLink, NlmFRequest | NlmFAck);
        WriteIfInfo(ref request, index, flags: 0, change: 0);
        request.AddUInt32(IflaMtu, (uint)mtu);
        request.AddUInt32(IflaTxQLen, (uint)txQueueLength);
        var afSpec = request.BeginNested(IflaAfSpec);
        var inet6 = request.BeginNested(AfInet6);
        request.AddAttribute(IflaInet6AddrGenMode, [In6AddrGenModeNone]);
        request.EndNested(inet6);
        request.EndNested(afSpec);
        return Execute(ref request);
    }

    /// <summary>Brings the interface up (IFF_UP).</summary>
    public NetlinkResult SetUp(int index)
    {
        Span<byte> buffer = stackalloc byte[RequestBufferSize];
        var request = new NetlinkRequest(buffer, RtmNewLink, NlmFRequest | NlmFAck);
        WriteIfInfo(ref request, index, IffUp, IffUp);
        return Execute(ref request);
    }

    /// <summary>
    /// Assigns <paramref name="address"/>/<paramref name="prefixLength"/> to the interface; the
    /// kernel then routes the prefix into it. IPv6 addresses skip duplicate address detection
    /// (IFA_F_NODAD), so they are usable at once: nothing else is on the link to duplicate them.
    /// </summary>
    public NetlinkResult AddAddress(int index, IPAddress address, int prefixLength)
    {
        Span<byte> buffer = stackalloc byte[RequestBufferSize];
        var request = new NetlinkRequest(buffer, RtmNewAddr, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl);
        var ipv6 = address.AddressFamily == AddressFamily.InterNetworkV6;

        // struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
        Span<byte> message = stackalloc byte[8];
        message.Clear();
        message[0] = (byte)(ipv6 ? AfInet6 : AfInet);
        message[1] = (byte)prefixLength;
        message[2] = (byte)(ipv6 ? IfaFNoDad : 0);
        message[3] = RtScopeUniverse;
        BitConverter.TryWriteBytes(message[4..], (uint)index);
        request.Add(message);

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        request.AddAttribute(IfaLocal, bytes[..length]);
        request.AddAttribute(IfaAddress, bytes[..length]);
        if (ipv6)
        {
            request.AddUInt32(IfaFlags, IfaFNoDad);
        }

        return Execute(ref request);
    }

    /// <summary>
    /// Adds a route to <paramref name="prefix"/> through the interface, in the main table, with
    /// protocol <see cref="RouteProtocol"/>. Fails with EEXIST when the same route exists already.
    /// </summary>
    public NetlinkResult AddRoute(int index, IPNetwork prefix) => ChangeRoute(RtmNewRoute, NlmFRequest | NlmFAck | NlmFCreate | NlmFExcl, index, prefix);

    /// <summary>Removes the route <see cref="AddRoute"/> added; fails with ESRCH when there is none.</summary>
    public NetlinkResult DeleteRoute(int index, IPNetwork prefix) => ChangeRoute(RtmDelRoute, NlmFRequest | NlmFAck, index, prefix);

    /// <summary>Closes the socket.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _socket.Dispose();
        }
    }

    private static void WriteIfInfo(ref NetlinkRequest request, int index, uint flags, uint change)
    {
        // struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change; }
        Span<byte> message = stackalloc byte[16];
        message.Clear();
        message[0] = AfUnspec;
        BitConverter.TryWriteBytes(message[4..], index);
        BitConverter.TryWriteBytes(message[8..], flags);
        BitConverter.TryWriteBytes(message[12..], change);
        request.Add(message);
    }

    private NetlinkResult ChangeRoute(ushort type, ushort flags, int index, IPNetwork prefix)
    {
        Span<byte> buffer = stackalloc byte[RequestBufferSize];
        var request = new NetlinkRequest(buffer, type, flags);
        var ipv6 = prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6;

        // struct rtmsg { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
        // Scope link for IPv4 (no gateway: the destination is on the link), universe for IPv6,
        // which has no route scopes; iproute2 does the same.
        Span<byte> message = stackalloc byte[12];
        message.Clear();
        message[0] = (byte)(ipv6 ? AfInet6 : AfInet);
        message[1] = (byte)prefix.PrefixLength;
        message[4] = RtTableMain;
        message[5] = RouteProtocol;
        message[6] = ipv6 ? RtScopeUniverse : RtScopeLink;
        message[7] = RtnUnicast;
        request.Add(message);

        Span<byte> bytes = stackalloc byte[16];
        prefix.BaseAddress.TryWriteBytes(bytes, out var length);
        request.AddAttribute(RtaDst, bytes[..length]);
        request.AddUInt32(RtaOif, (uint)index);
        return Execute(ref request);
    }

    private NetlinkResult Execute(ref NetlinkRequest request)
    {
        lock (_lock)
        {
            var sequence = ++_sequence;
            var bytes = request.Finish(sequence);
            return Transact(bytes, sequence);
        }
    }

    private NetlinkResult Transact(ReadOnlySpan<byte> request, uint sequence)
    {
        var added = false;
        try
        {
            _socket.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return new NetlinkResult(Errno.EBadF, "the netmod is stopped");
        }

        try
        {
            var fd = _socket.Value;
            fixed (byte* pointer = request)
            {
                if (Libc.Send(fd, pointer, (nuint)request.Length, 0) < 0)
                {
                    return new NetlinkResult(Errno.Last, null);
                }
            }

            while (true)
            {
                nint received;
                fixed (byte* pointer = _receiveBuffer)
                {
                    received = Libc.Recv(fd, pointer, (nuint)_receiveBuffer.Length, 0);
                }

                if (received < 0)
                {
                    var errno = Errno.Last;
                    if (errno == Errno.EIntr)
                    {
                        continue;
                    }

                    return new NetlinkResult(errno, errno == Errno.EAgain ? "no answer from the kernel within 5 s" : null);
                }

                if (FindAck(_receiveBuffer.AsSpan(0, (int)received), sequence) is { } result)
                {
                    return result;
                }
            }
        }
        finally
        {
            if (added)
            {
                _socket.DangerousRelease();
            }
        }
    }

    /// <summary>The ack for <paramref name="sequence"/> among the messages in <paramref name="datagram"/>, or null (an answer to an earlier, timed-out request).</summary>
    private static NetlinkResult? FindAck(ReadOnlySpan<byte> datagram, uint sequence)
    {
        while (datagram.Length >= HeaderSize)
        {
            var length = (int)BitConverter.ToUInt32(datagram);
            if (length < HeaderSize || length > datagram.Length)
            {
                return null;
            }

            var message = datagram[..length];
            var type = BitConverter.ToUInt16(message[4..]);
            var flags = BitConverter.ToUInt16(message[6..]);
            if (BitConverter.ToUInt32(message[8..]) == sequence && type == NlmsgError && message.Length >= HeaderSize + 4)
            {
                // struct nlmsgerr { int error; struct nlmsghdr msg; [payload unless capped] } then TLVs.
                var error = -BitConverter.ToInt32(message[HeaderSize..]);
                string? text = null;
                if (error != 0 && (flags & NlmFAckTlvs) != 0 && message.Length >= HeaderSize + 4 + HeaderSize)
                {
                    var quoted = (flags & NlmFCapped) != 0 ? HeaderSize : (int)BitConverter.ToUInt32(message[(HeaderSize + 4)..]);
                    var tlvStart = HeaderSize + 4 + Align(quoted);
                    text = tlvStart <= message.Length ? KernelMessage(message[tlvStart..]) : null;
                }

                return new NetlinkResult(error, text);
            }

            datagram = datagram[Math.Min(Align(length), datagram.Length)..];
        }

        return null;
    }

    private static string? KernelMessage(ReadOnlySpan<byte> attributes)
    {
        while (attributes.Length >= 4)
        {
            var length = BitConverter.ToUInt16(attributes);
            var type = BitConverter.ToUInt16(attributes[2..]) & ~NlaFNested;
            if (length < 4 || length > attributes.Length)
            {
                return null;
            }

            if (type == NlmsgerrAttrMsg)
            {
                return Encoding.UTF8.GetString(attributes[4..length]).TrimEnd('\0');
            }

            attributes = attributes[Math.Min(Align(length), attributes.Length)..];
        }

        return null;
    }

    private static int Align(int length) => (length + 3) & ~3;

    /// <summary>Builds one netlink message (host byte order, as netlink is) in a caller's buffer.</summary>
    private ref struct NetlinkRequest
    {
        private readonly Span<byte> _buffer;
        private int _length;

        public NetlinkRequest(Span<byte> buffer, ushort type, ushort flags)
        {
            _buffer = buffer;
            _buffer.Clear();
            BitConverter.TryWriteBytes(_buffer[4..], type);
            BitConverter.TryWriteBytes(_buffer[6..], flags);
            _length = HeaderSize;
        }

        /// <summary>Appends a fixed structure (ifinfomsg, ifaddrmsg, rtmsg), padded to 4 bytes.</summary>
        public void Add(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_buffer[_length..]);
            _length += Align(bytes.Length);
        }

        public void AddAttribute(ushort type, scoped ReadOnlySpan<byte> value)
        {
            BitConverter.TryWriteBytes(_buffer[_length..], (ushort)(4 + value.Length));
            BitConverter.TryWriteBytes(_buffer[(_length + 2)..], type);
            value.CopyTo(_buffer[(_length + 4)..]);
            _length += Align(4 + value.Length);
        }

        public void AddUInt32(ushort type, uint value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BitConverter.TryWriteBytes(bytes, value);
            AddAttribute(type, bytes);
        }

        /// <summary>Starts an attribute that holds attributes; returns where, for <see cref="EndNested"/>.</summary>
        public int BeginNested(ushort type)
        {
            var start = _length;
            BitConverter.TryWriteBytes(_buffer[(_length + 2)..], (ushort)(type | NlaFNested));
            _length += 4;
            return start;
        }

        public readonly void EndNested(int start) => BitConverter.TryWriteBytes(_buffer[start..], (ushort)(_length - start));

        /// <summary>Sets the length and sequence number; returns the message.</summary>
        public readonly ReadOnlySpan<byte> Finish(uint sequence)
        {
            BitConverter.TryWriteBytes(_buffer, (uint)_length);
            BitConverter.TryWriteBytes(_buffer[8..], sequence);
            return _buffer[.._length];
        }
    }
}
