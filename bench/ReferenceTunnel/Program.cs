// The reference tunnel: the least that a C# tunnel of IP packets over TCP with AES-256-GCM
// does, to measure the router against in the overlay benchmark (bench/overlay/run.sh
// reference; docs/PERFORMANCE.md, "The reference tunnel"). It is the kind of "bare C#
// TUN-over-TCP tunnel" the throughput targets of the IP-over-the-mesh issue were derived from.
//
//   reference-tunnel listen PORT ADDRESS/PREFIX [--no-offload]
//   reference-tunnel connect HOST:PORT ADDRESS/PREFIX [--no-offload]
//
// Each side opens the TUN device "ref0" with offloads (IFF_VNET_HDR, TUNSETOFFLOAD with CSUM and
// TSO4/6, so a read can be a 64 KiB super-packet; without them with --no-offload, so every read
// is one packet of at most 1,500 bytes, sealed alone), gives it ADDRESS/PREFIX, MTU 1500 and a
// queue of 1000 with `ip`, and makes one TCP connection. Then two threads per side, each with
// blocking calls and nothing between them: TUN read → seal → send, and receive → open → TUN
// write. A frame on the wire is u32 length ‖ 12-byte nonce ‖ 16-byte tag ‖ ciphertext.
//
// It is a yardstick, NOT a secure tunnel: there is no handshake, the key is a constant, the
// peer is not authenticated, and it stops at the first error. Run it only inside the
// benchmark's network namespaces.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Router.ReferenceTunnel;

internal static partial class Program
{
    private const string DeviceName = "ref0";
    private const int FrameHeader = 4 + 12 + 16;
    private const int MaxPacket = 65_536 + 10;

    private static int Main(string[] args)
    {
        var offload = !(args.Length == 4 && args[3] == "--no-offload");
        if (args.Length is not (3 or 4) || args[0] is not ("listen" or "connect") || (args.Length == 4 && offload))
        {
            Console.Error.WriteLine("usage: reference-tunnel listen PORT ADDRESS/PREFIX | connect HOST:PORT ADDRESS/PREFIX, then --no-offload or nothing");
            return 2;
        }

        try
        {
            var device = OpenDevice(offload);
            Ip($"link set {DeviceName} mtu 1500 txqueuelen 1000 up");
            Ip($"addr add {args[2]} dev {DeviceName}");
            using var socket = args[0] == "listen" ? Accept(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture)) : Connect(IPEndPoint.Parse(args[1]));
            socket.NoDelay = true;
            Console.WriteLine($"{DeviceName} up, linked to {socket.RemoteEndPoint}");

            // A constant key: see the top of the file. Each side's nonces start with 4 random
            // bytes of its own, so the two directions of one run share no nonce but by a 2^-32
            // chance; runs repeat the key, so nonces can repeat across runs (a yardstick only).
            var key = SHA256.HashData("router reference tunnel"u8);
            var outbound = new Thread(() => Run(() => TunToSocket(device, socket, key))) { Name = "tun to socket" };
            var inbound = new Thread(() => Run(() => SocketToTun(device, socket, key))) { Name = "socket to tun" };
            outbound.Start();
            inbound.Start();
            outbound.Join();
            inbound.Join();
            return 1;
        }
        catch (Exception e) when (e is IOException or SocketException or FormatException)
        {
            Console.Error.WriteLine($"reference-tunnel: {e.Message}");
            return 1;
        }
    }

    /// <summary>Runs one direction until it fails, then ends the process (nothing else is left to do).</summary>
    private static void Run(Action direction)
    {
        try
        {
            direction();
            Console.Error.WriteLine("reference-tunnel: the peer closed the connection");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"reference-tunnel: {e.Message}");
        }

        Environment.Exit(1);
    }

    private static unsafe void TunToSocket(int device, Socket socket, byte[] key)
    {
        using var aes = new AesGcm(key, 16);
        var packet = new byte[MaxPacket];
        var frame = new byte[FrameHeader + MaxPacket];
        Span<byte> nonce = stackalloc byte[12];
        RandomNumberGenerator.Fill(nonce[..4]);
        ulong counter = 0;
        while (true)
        {
            nint read;
            fixed (byte* p = packet)
            {
                read = Libc.Read(device, p, packet.Length);
            }

            if (read <= 0)
            {
                throw new IOException($"TUN read failed: errno {Marshal.GetLastPInvokeError()}");
            }

            var length = (int)read;
            BinaryPrimitives.WriteUInt64LittleEndian(nonce[4..], ++counter);
            BinaryPrimitives.WriteInt32LittleEndian(frame, length);
            nonce.CopyTo(frame.AsSpan(4));
            aes.Encrypt(nonce, packet.AsSpan(0, length), frame.AsSpan(FrameHeader, length), frame.AsSpan(16, 16));
            var total = FrameHeader + length;
            for (var sent = 0; sent < total;)
            {
                sent += socket.Send(frame, sent, total - sent, SocketFlags.None);
            }
        }
    }

    private static unsafe void SocketToTun(int device, Socket socket, byte[] key)
    {
        using var aes = new AesGcm(key, 16);
        var buffer = new byte[4 * (FrameHeader + MaxPacket)];
        var packet = new byte[MaxPacket];
        int start = 0, end = 0;
        while (true)
        {
            // Keep room for a whole frame behind what is buffered.
            if (buffer.Length - end < FrameHeader + MaxPacket)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }

            var received = socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
            if (received == 0)
            {
                return;
            }

            end += received;
            while (end - start >= FrameHeader)
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(start));
                if (length is <= 0 or > MaxPacket)
                {
                    throw new IOException($"bad frame length {length}");
                }

                if (end - start < FrameHeader + length)
                {
                    break;
                }

                aes.Decrypt(buffer.AsSpan(start + 4, 12), buffer.AsSpan(start + FrameHeader, length), buffer.AsSpan(start + 16, 16), packet.AsSpan(0, length));
                fixed (byte* p = packet)
                {
                    // A refused packet is lost, as on any link.
                    _ = Libc.Write(device, p, length);
                }

                start += FrameHeader + length;
            }

            if (start == end)
            {
                start = end = 0;
            }
        }
    }

    private static unsafe int OpenDevice(bool offload)
    {
        var fd = Libc.Open("/dev/net/tun", Libc.ReadWrite | Libc.CloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open /dev/net/tun: errno {Marshal.GetLastPInvokeError()}");
        }

        // struct ifreq: the name, then the flags at offset 16.
        var request = stackalloc byte[40];
        new Span<byte>(request, 40).Clear();
        System.Text.Encoding.ASCII.GetBytes(DeviceName, new Span<byte>(request, 16));
        *(short*)(request + 16) = offload ? (short)(Libc.IffTun | Libc.IffNoPi | Libc.IffVnetHdr) : (short)(Libc.IffTun | Libc.IffNoPi);
        if (Libc.Ioctl(fd, Libc.TunSetIff, (nint)request) < 0)
        {
            throw new IOException($"TUNSETIFF failed: errno {Marshal.GetLastPInvokeError()}");
        }

        if (offload && Libc.Ioctl(fd, Libc.TunSetOffload, Libc.TunFCsum | Libc.TunFTso4 | Libc.TunFTso6) < 0)
        {
            throw new IOException($"TUNSETOFFLOAD failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return fd;
    }

    private static void Ip(string arguments)
    {
        using var ip = Process.Start(new ProcessStartInfo("ip", arguments) { RedirectStandardError = true })
            ?? throw new IOException("cannot run ip");
        var error = ip.StandardError.ReadToEnd();
        ip.WaitForExit();
        if (ip.ExitCode != 0)
        {
            throw new IOException($"ip {arguments}: {error.Trim()}");
        }
    }

    private static Socket Accept(int port)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(1);
        return listener.Accept();
    }

    private static Socket Connect(IPEndPoint peer)
    {
        // The listener may start a moment later: try for 10 s.
        for (var attempt = 0; ; attempt++)
        {
            var socket = new Socket(peer.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Connect(peer);
                return socket;
            }
            catch (SocketException) when (attempt < 100)
            {
                socket.Dispose();
                Thread.Sleep(100);
            }
        }
    }

    private static unsafe partial class Libc
    {
        public const int ReadWrite = 2;
        public const int CloseOnExec = 0x80000;
        public const short IffTun = 0x0001;
        public const short IffNoPi = 0x1000;
        public const short IffVnetHdr = 0x4000;
        public const nuint TunSetIff = 0x400454ca;
        public const nuint TunSetOffload = 0x400454d0;
        public const nint TunFCsum = 0x01;
        public const nint TunFTso4 = 0x02;
        public const nint TunFTso6 = 0x04;

        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
        public static partial int Ioctl(int fd, nuint request, nint argument);

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        public static partial nint Read(int fd, byte* buffer, nint count);

        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        public static partial nint Write(int fd, byte* buffer, nint count);
    }
}
