// The receive side's system calls once a connection runs: the socket is switched to blocking
// mode and read with plain readv() (into one buffer, or into a long frame's buffer and the
// one behind it), so a wake-up costs one system call — where a non-blocking socket needs
// poll(), the read and another read that says nothing more is there.
//
// Done underneath Socket on purpose: Socket.Blocking = true on a socket that was ever
// non-blocking only emulates blocking, through the runtime's socket engine (an epoll thread
// waking a pool thread per segment), which this netmod never involves (PeerConnection.cs). The
// other calls on the socket are unaffected: a direct send passes MSG_DONTWAIT (GatherSend), the
// writer's Socket.Send then waits inside send() instead of in poll(), and shutdown() still wakes
// a read that waits. Values are those of 64-bit Linux on x86-64 and arm64.
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Router.Netmods.Inet;

/// <summary>Blocking reads (readv) on a connected link socket.</summary>
internal static unsafe partial class BlockingReceive
{
    private const nuint NonBlockingIo = 0x5421; // FIONBIO
    private const int Interrupted = 4;

    /// <summary>Clears the socket's O_NONBLOCK; 0, or the errno.</summary>
    public static int MakeBlocking(Socket socket)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var off = 0;
            return IoCtl((int)handle.DangerousGetHandle(), NonBlockingIo, &off) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Receives into <paramref name="buffer"/>, waiting until something arrives, the peer closes
    /// (0) or the socket is shut down (0). Returns the byte count, or -1 with <paramref name="error"/>
    /// set to the errno. Throws <see cref="ObjectDisposedException"/> once the socket is closed.
    /// </summary>
    public static int Receive(Socket socket, Span<byte> buffer, out int error) => Receive(socket, buffer, default, out error);

    /// <summary>
    /// As <see cref="Receive(Socket, Span{byte}, out int)"/>, into two buffers in one call
    /// (readv): <paramref name="first"/> fills before anything goes to <paramref name="second"/>.
    /// </summary>
    public static int Receive(Socket socket, Span<byte> first, Span<byte> second, out int error)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            fixed (byte* one = first)
            fixed (byte* two = second)
            {
                var vectors = stackalloc IoVector[2];
                vectors[0] = new IoVector { Base = one, Length = (nuint)first.Length };
                vectors[1] = new IoVector { Base = two, Length = (nuint)second.Length };
                var count = second.IsEmpty ? 1 : 2;
                nint received;
                do
                {
                    received = ReadV((int)handle.DangerousGetHandle(), vectors, count);
                    error = received < 0 ? Marshal.GetLastPInvokeError() : 0;
                }
                while (error == Interrupted);

                return (int)received;
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

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int IoCtl(int fd, nuint request, int* argument);

    [LibraryImport("libc", EntryPoint = "readv", SetLastError = true)]
    private static partial nint ReadV(int fd, IoVector* vectors, int count);

    /// <summary>struct iovec.</summary>
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }
}
