using System.Text;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>Where <see cref="FrameWriter"/> puts finished IP packets: the device, or a test's list.</summary>
internal interface IPacketSink
{
    /// <summary>
    /// Writes one packet (with the virtio header in front when the device takes one). Returns
    /// 0, an errno, or <see cref="TunDevice.Closed"/> when the sink is closed. Never throws.
    /// </summary>
    int Write(ReadOnlySpan<byte> packet);
}

/// <summary>
/// One TUN interface, opened through the clone device: <c>open</c>, then <c>TUNSETIFF</c> with
/// <c>IFF_TUN | IFF_NO_PI</c> (and <c>IFF_VNET_HDR</c> with offloads), then with offloads
/// <c>TUNSETOFFLOAD</c>. The interface is not persistent: it exists while the descriptor is
/// open, and closing it (<see cref="Dispose"/>) makes the kernel remove it with its addresses
/// and routes.
/// </summary>
/// <remarks>
/// Writes come from any thread and do not block (a TUN write hands the packet to the kernel's
/// receive path at once). Reads belong to <see cref="PacketReader"/>'s thread.
/// </remarks>
internal sealed unsafe class TunDevice : IPacketSink, IDisposable
{
    /// <summary>What <see cref="Write"/> returns once the device is closed.</summary>
    public const int Closed = -1;

    private const nuint TunSetIff = 0x400454ca;
    private const nuint TunSetOffload = 0x400454d0;
    private const short IffTun = 0x0001;
    private const short IffNapi = 0x0010;
    private const short IffNoPi = 0x1000;
    private const short IffVnetHdr = 0x4000;
    private const uint TunFCsum = 0x01;
    private const uint TunFTso4 = 0x02;
    private const uint TunFTso6 = 0x04;

    // struct ifreq: the name in the first 16 bytes (IFNAMSIZ), the flags (a short) at 16.
    private const int IfReqSize = 40;
    private const int IfNameSize = 16;
    private const int IfReqFlagsOffset = 16;

    private TunDevice(FileDescriptor descriptor, string name, int index, bool virtioHeader, bool napi)
    {
        Descriptor = descriptor;
        Name = name;
        Index = index;
        HasVirtioHeader = virtioHeader;
        HasNapi = napi;
    }

    /// <summary>The open descriptor (non-blocking, close-on-exec).</summary>
    public FileDescriptor Descriptor { get; }

    /// <summary>The interface name.</summary>
    public string Name { get; }

    /// <summary>The interface index, for netlink.</summary>
    public int Index { get; }

    /// <summary>Whether reads and writes carry a <see cref="VirtioNetHeader"/> (IFF_VNET_HDR, with offloads on).</summary>
    public bool HasVirtioHeader { get; }

    /// <summary>
    /// Whether packets written pass through a NAPI context (IFF_NAPI) and so through the kernel's
    /// GRO, which merges consecutive TCP segments of a flow while the device's gro_flush_timeout
    /// lets it hold them (<see cref="ReceiveCoalescing"/>).
    /// </summary>
    public bool HasNapi { get; }

    /// <summary>
    /// Creates the interface <paramref name="name"/> in the calling thread's network namespace.
    /// Throws <see cref="IOException"/> with one sentence saying what went wrong and what to do;
    /// on failure nothing is left open.
    /// </summary>
    /// <param name="path">The clone device, normally <c>/dev/net/tun</c>.</param>
    /// <param name="name">The interface name (validated by <see cref="TunOptions"/>).</param>
    /// <param name="offload">Whether to ask for the virtio header and checksum and TSO offloads.</param>
    /// <param name="napi">Whether written packets go through a NAPI context (and GRO).</param>
    public static TunDevice Open(string path, string name, bool offload, bool napi)
    {
        var fd = Libc.Open(path, Libc.ORdWr | Libc.ONonBlock | Libc.OCloExec);
        if (fd < 0)
        {
            throw new IOException(OpenProblem(path, Errno.Last));
        }

        var descriptor = new FileDescriptor(fd);
        try
        {
            Span<byte> request = stackalloc byte[IfReqSize];
            request.Clear();
            Encoding.ASCII.GetBytes(name, request[..IfNameSize]);
            var flags = (short)(IffTun | IffNoPi | (offload ? IffVnetHdr : 0) | (napi ? IffNapi : 0));
            BitConverter.TryWriteBytes(request[IfReqFlagsOffset..], flags);
            fixed (byte* pointer = request)
            {
                if (Libc.Ioctl(fd, TunSetIff, pointer) < 0)
                {
                    var error = Errno.Last;
                    if (napi && error == Errno.EInval)
                    {
                        // A kernel without IFF_NAPI (before Linux 4.15): the device without it.
                        descriptor.Dispose();
                        return Open(path, name, offload, napi: false);
                    }

                    throw new IOException(CreateProblem(path, name, error));
                }
            }

            // The kernel writes back the name it used: the one asked for, as names with '%' are refused.
            var created = Encoding.ASCII.GetString(request[..IfNameSize]).TrimEnd('\0');

            // Passed by value, not by pointer: tun's ioctl reads the argument itself as the flags.
            if (offload && Libc.Ioctl(fd, TunSetOffload, TunFCsum | TunFTso4 | TunFTso6) < 0)
            {
                throw new IOException($"cannot enable checksum and TSO offloads on TUN device {created}: {Errno.Describe(Errno.Last)}; set Offload to false to run without them.");
            }

            var index = Libc.IfNameToIndex(created);
            if (index == 0)
            {
                throw new IOException($"TUN device {created} was created but has no interface index: {Errno.Describe(Errno.Last)}.");
            }

            return new TunDevice(descriptor, created, (int)index, offload, napi);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public int Write(ReadOnlySpan<byte> packet)
    {
        var added = false;
        try
        {
            Descriptor.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return Closed;
        }

        try
        {
            fixed (byte* pointer = packet)
            {
                while (true)
                {
                    // A TUN write takes the whole packet or fails; it never writes part of one.
                    if (Libc.Write(Descriptor.Value, pointer, (nuint)packet.Length) >= 0)
                    {
                        return 0;
                    }

                    var errno = Errno.Last;
                    if (errno != Errno.EIntr)
                    {
                        return errno;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                Descriptor.DangerousRelease();
            }
        }
    }

    /// <summary>Closes the descriptor once no write is using it; the kernel then removes the interface.</summary>
    public void Dispose() => Descriptor.Dispose();

    private static string OpenProblem(string path, int errno) => errno switch
    {
        Errno.EPerm or Errno.EAcces => $"cannot open {path}: permission denied — the tun netmod needs root or CAP_NET_ADMIN.",
        Errno.ENoEnt => $"cannot open {path}: no such file — the kernel's TUN driver is missing (load it with modprobe tun) or the device node was not created.",
        Errno.ENoDev or Errno.ENxio => $"cannot open {path}: no such device — the kernel's TUN driver is not loaded (modprobe tun).",
        _ => $"cannot open {path}: {Errno.Describe(errno)}.",
    };

    private static string CreateProblem(string path, string name, int errno) => errno switch
    {
        Errno.EPerm or Errno.EAcces => $"cannot create TUN device {name}: permission denied — the tun netmod needs root or CAP_NET_ADMIN.",
        Errno.EBusy => $"cannot create TUN device {name}: the name is in use by another TUN device (is another router using Name {name}?); choose another Name.",
        Errno.EInval => $"cannot create TUN device {name}: an interface of that name exists and is not a TUN device of this kind; choose another Name.",
        Errno.ENotTy => $"cannot create TUN device {name}: {path} is not the TUN clone device.",
        _ => $"cannot create TUN device {name}: {Errno.Describe(errno)}.",
    };
}
