// sendmsg/recvmsg on the link sockets, for what Socket does not expose: UDP segmentation offload
// (UDP_SEGMENT, Linux 4.18: one sendmsg hands the kernel many equal-sized datagrams, which it
// cuts late or has the NIC cut), receive coalescing (UDP_GRO, Linux 5.0: one recvmsg returns
// several datagrams of one sender, with their size in a control message), and a socket that
// blocks in recvmsg while every send passes MSG_DONTWAIT (LinkSocket). Values are those of
// 64-bit Linux on x86-64 and arm64, which agree on all of them; the netmod runs on Linux only.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Router.Netmods.Udp;

/// <summary>Segmented sends and coalesced receives on a UDP socket, by direct system calls.</summary>
internal static unsafe partial class SegmentedIo
{
    /// <summary>
    /// The most datagrams one segmented send may carry: UDP_MAX_SEGMENTS was 64 until Linux
    /// 6.9 (128 since); the smaller keeps every kernel that has UDP_SEGMENT.
    /// </summary>
    public const int MaxSegments = 64;

    /// <summary>The most bytes one segmented send may carry: the UDP payload of a largest IPv4 packet.</summary>
    public const int MaxSegmentedBytes = 65_507;

    private const int SolUdp = 17;
    private const int UdpSegment = 103;
    private const int UdpGro = 104;
    private const int MsgTrunc = 0x20;

    // Every send: never wait for room in the socket buffer (a full buffer is a lost datagram),
    // whatever the socket's mode; never raise SIGPIPE.
    private const int SendFlags = 0x40 | 0x4000; // MSG_DONTWAIT | MSG_NOSIGNAL

    private const nuint NonBlockingIo = 0x5421; // FIONBIO

    private const int EAgain = 11;
    private const int EIo = 5;
    private const int EInval = 22;
    private const int EMsgSize = 90;
    private const int ENoProtoOpt = 92;
    private const int EOpNotSupp = 95;

    // cmsghdr is 16 bytes on 64-bit Linux; its data follows, and CMSG_SPACE pads it to 8 bytes.
    private const int CmsgHeaderSize = 16;
    private const int ControlBytes = 64;

    /// <summary>Whether a send or receive worked, found nothing to do, or failed.</summary>
    public enum Outcome
    {
        Done,
        WouldBlock,
        Failed,
    }

    /// <summary>Asks the kernel to coalesce arriving datagrams for this socket (UDP_GRO). False when it cannot.</summary>
    public static bool EnableReceiveCoalescing(Socket socket)
    {
        var on = 1;
        using var fd = new Descriptor(socket);
        return SetSockOpt(fd.Value, SolUdp, UdpGro, &on, sizeof(int)) == 0;
    }

    /// <summary>
    /// Makes the socket blocking underneath <see cref="Socket"/>, whose own <c>Blocking = true</c>
    /// on a socket that was non-blocking would only emulate it through the runtime's socket
    /// engine. Returns 0, or the errno when the kernel refuses.
    /// </summary>
    public static int MakeBlocking(Socket socket)
    {
        var off = 0;
        using var fd = new Descriptor(socket);
        return IoCtl(fd.Value, NonBlockingIo, &off) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// Sends one datagram to <paramref name="to"/> without waiting: <see cref="Outcome.WouldBlock"/>
    /// when the socket buffer is full, <see cref="Outcome.Failed"/> with the errno in
    /// <paramref name="error"/> when the kernel refuses it.
    /// </summary>
    public static Outcome Send(Socket socket, ReadOnlySpan<byte> datagram, SocketAddress to, out int error)
    {
        error = SendMessage(socket, datagram, to, control: null, controlLength: 0);
        return ToOutcome(error);
    }

    /// <summary>
    /// Sends <paramref name="datagrams"/> — back-to-back datagrams of <paramref name="segmentSize"/>
    /// bytes, the last possibly shorter; at most <see cref="MaxSegments"/> of them and
    /// <see cref="MaxSegmentedBytes"/> in all — to <paramref name="to"/> with one sendmsg and
    /// UDP_SEGMENT. <paramref name="unsupported"/> is set when the kernel or the route cannot
    /// segment (the caller then sends them one by one); <paramref name="error"/> is errno on failure.
    /// </summary>
    public static Outcome SendSegmented(Socket socket, ReadOnlySpan<byte> datagrams, int segmentSize, SocketAddress to, out bool unsupported, out int error)
    {
        var control = stackalloc byte[ControlBytes];
        new Span<byte>(control, ControlBytes).Clear();
        *(nuint*)control = CmsgHeaderSize + sizeof(ushort);
        *(int*)(control + 8) = SolUdp;
        *(int*)(control + 12) = UdpSegment;
        *(ushort*)(control + CmsgHeaderSize) = (ushort)segmentSize;

        error = SendMessage(socket, datagrams, to, control, CmsgHeaderSize + 8);

        // EIO: the device cannot checksum UDP; EINVAL (EMSGSIZE since Linux 6.x): a segment
        // over the route's MTU; ENOPROTOOPT / EOPNOTSUPP: a kernel without UDP_SEGMENT.
        unsupported = error is EIo or EInval or EMsgSize or ENoProtoOpt or EOpNotSupp;
        return ToOutcome(error);
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/>, waiting (the socket is blocking) until a datagram
    /// arrives or the socket is shut down (then 0 bytes): one datagram, or several coalesced ones of
    /// <paramref name="segmentSize"/> bytes each (the last possibly shorter; 0 when not
    /// coalesced). <paramref name="from"/> gets the sender's address. <paramref name="truncated"/>
    /// is set when the buffer was too small (the excess is lost).
    /// </summary>
    public static Outcome Receive(Socket socket, Span<byte> buffer, SocketAddress from, out int length, out int segmentSize, out bool truncated, out int error)
    {
        var control = stackalloc byte[ControlBytes];
        length = 0;
        segmentSize = 0;
        truncated = false;
        using var fd = new Descriptor(socket);
        fixed (byte* data = buffer)
        fixed (byte* name = from.Buffer.Span)
        {
            var vector = new IoVec { Base = data, Length = (nuint)buffer.Length };
            var message = new MessageHeader
            {
                Name = name,
                NameLength = (uint)from.Buffer.Length,
                Vectors = &vector,
                VectorCount = 1,
                Control = control,
                ControlLength = ControlBytes,
            };
            var received = RecvMsg(fd.Value, &message, 0);
            if (received < 0)
            {
                error = Marshal.GetLastPInvokeError();
                return error == EAgain ? Outcome.WouldBlock : Outcome.Failed;
            }

            error = 0;
            length = (int)received;
            from.Size = (int)message.NameLength;
            truncated = (message.Flags & MsgTrunc) != 0;
            segmentSize = CoalescedSegmentSize(control, (int)message.ControlLength);
            return Outcome.Done;
        }
    }

    /// <summary>One sendmsg() that never waits, of <paramref name="data"/> to <paramref name="to"/> with the control messages given; 0 or the errno.</summary>
    private static int SendMessage(Socket socket, ReadOnlySpan<byte> data, SocketAddress to, byte* control, nuint controlLength)
    {
        using var fd = new Descriptor(socket);
        fixed (byte* bytes = data)
        fixed (byte* name = to.Buffer.Span)
        {
            var vector = new IoVec { Base = bytes, Length = (nuint)data.Length };
            var message = new MessageHeader
            {
                Name = name,
                NameLength = (uint)to.Size,
                Vectors = &vector,
                VectorCount = 1,
                Control = control,
                ControlLength = controlLength,
            };
            return SendMsg(fd.Value, &message, SendFlags) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    private static Outcome ToOutcome(int error) => error switch
    {
        0 => Outcome.Done,
        EAgain => Outcome.WouldBlock,
        _ => Outcome.Failed,
    };

    /// <summary>The error's text, as strerror gives it.</summary>
    public static string Describe(int error) => Marshal.GetPInvokeErrorMessage(error);

    // Walks the control messages for UDP_GRO's (an int: the size of each coalesced datagram).
    private static int CoalescedSegmentSize(byte* control, int length)
    {
        var position = 0;
        while (position + CmsgHeaderSize <= length)
        {
            var cmsgLength = (int)*(nuint*)(control + position);
            if (cmsgLength < CmsgHeaderSize || position + cmsgLength > length)
            {
                return 0;
            }

            if (*(int*)(control + position + 8) == SolUdp && *(int*)(control + position + 12) == UdpGro && cmsgLength >= CmsgHeaderSize + sizeof(int))
            {
                return *(int*)(control + position + CmsgHeaderSize);
            }

            position += (cmsgLength + 7) & ~7;
        }

        return 0;
    }

    /// <summary>
    /// A socket's descriptor, kept open for one call: a concurrent Dispose of the socket closes
    /// it only after this is disposed. Throws <see cref="ObjectDisposedException"/> when the
    /// socket is already closed.
    /// </summary>
    private readonly ref struct Descriptor
    {
        private readonly SafeHandle _handle;

        public Descriptor(Socket socket)
        {
            _handle = socket.SafeHandle;
            var added = false;
            _handle.DangerousAddRef(ref added);
            Value = (int)_handle.DangerousGetHandle();
        }

        public int Value { get; }

        public void Dispose() => _handle.DangerousRelease();
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    // struct msghdr of 64-bit Linux (56 bytes).
    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public byte* Name;
        public uint NameLength;
        public IoVec* Vectors;
        public nuint VectorCount;
        public byte* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    private static partial nint RecvMsg(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoCtl(int fd, nuint request, int* argument);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);
}
