// One sendmsg() with two pieces — a frame's length header and the frame — so a direct send does
// not first copy a 64 KiB frame behind its header. Socket.Send(IList<ArraySegment<byte>>) would
// allocate per call. Values are those of 64-bit Linux on x86-64 and arm64.
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Router.Netmods.Inet;

/// <summary>A non-blocking gather send of header and frame on a TCP socket.</summary>
internal static unsafe partial class GatherSend
{
    /// <summary>errno of a send the full socket buffer refused (EAGAIN).</summary>
    public const int WouldBlock = 11;

    // MSG_DONTWAIT: never block, whatever the socket's mode; MSG_NOSIGNAL: a closed peer is
    // EPIPE, not SIGPIPE.
    private const int Flags = 0x40 | 0x4000;

    private const int Interrupted = 4;

    /// <summary>
    /// Sends <paramref name="header"/> then <paramref name="frame"/>; returns how many bytes the
    /// kernel took (possibly fewer than both, 0 when <paramref name="error"/> is set: errno, e.g.
    /// <see cref="WouldBlock"/>). Throws <see cref="ObjectDisposedException"/> once the socket is closed.
    /// </summary>
    public static int Send(Socket socket, ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame, out int error)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* first = header)
            fixed (byte* second = frame)
            {
                var vectors = stackalloc IoVec[2];
                vectors[0] = new IoVec { Base = first, Length = (nuint)header.Length };
                vectors[1] = new IoVec { Base = second, Length = (nuint)frame.Length };
                var message = new MessageHeader { Vectors = vectors, VectorCount = 2 };
                nint sent;
                do
                {
                    sent = SendMsg((int)handle.DangerousGetHandle(), &message, Flags);
                    error = sent < 0 ? Marshal.GetLastPInvokeError() : 0;
                }
                while (error == Interrupted);

                return sent < 0 ? 0 : (int)sent;
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>The error's text, as strerror gives it.</summary>
    public static string Describe(int error) => Marshal.GetPInvokeErrorMessage(error);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    // struct msghdr of 64-bit Linux.
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
}
