using System.Buffers.Binary;

namespace Router.Sdk;

/// <summary>
/// The 10-byte header in front of every IP packet a <see cref="LinkKind.Local"/> netmod
/// exchanges with the router: Linux's <c>struct virtio_net_hdr</c> (little-endian), exactly as
/// a TUN device opened with <c>IFF_VNET_HDR</c> reads and writes it. It says whether the
/// packet still needs its transport checksum filled in (<see cref="NeedsChecksum"/>) and
/// whether it is a GSO super-packet (up to 64 KiB) to be cut into TCP segments of
/// <see cref="GsoSize"/> payload bytes (<see cref="GsoType"/>). A device without offloads
/// reads packets with an all-zero header in front. The router carries the header with the
/// packet unchanged; the netmod at the destination writes it as it is or, when its device
/// cannot take it, completes the checksum and segments the packet itself.
/// </summary>
/// <param name="Flags">Bit 0 <see cref="FlagNeedsChecksum"/>, bit 1 <see cref="FlagDataValid"/>.</param>
/// <param name="GsoType">One of the <c>Gso*</c> constants, with <see cref="GsoEcn"/> possibly set.</param>
/// <param name="HeaderLength">Length of the IP and transport headers of a GSO packet (a hint).</param>
/// <param name="GsoSize">Payload bytes per segment of a GSO packet.</param>
/// <param name="ChecksumStart">Where checksumming starts (the transport header), from the start of the IP packet.</param>
/// <param name="ChecksumOffset">Where the checksum goes, from <paramref name="ChecksumStart"/>.</param>
public readonly record struct VirtioNetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    /// <summary>Length of the header in bytes.</summary>
    public const int Size = 10;

    /// <summary>Largest packet frame: the header and an IP packet of up to 65,535 bytes.</summary>
    public const int MaxFrameSize = Size + ushort.MaxValue;

    /// <summary>The transport checksum is not yet computed: it covers the bytes from <see cref="ChecksumStart"/>.</summary>
    public const byte FlagNeedsChecksum = 1;

    /// <summary>The checksum was verified already.</summary>
    public const byte FlagDataValid = 2;

    /// <summary>Not a GSO packet.</summary>
    public const byte GsoNone = 0;

    /// <summary>A TCP over IPv4 super-packet.</summary>
    public const byte GsoTcpV4 = 1;

    /// <summary>A UDP fragmentation-offload packet (not produced by the Linux TUN offloads the router enables).</summary>
    public const byte GsoUdp = 3;

    /// <summary>A TCP over IPv6 super-packet.</summary>
    public const byte GsoTcpV6 = 4;

    /// <summary>A UDP segmentation-offload packet (<c>VIRTIO_NET_HDR_GSO_UDP_L4</c>).</summary>
    public const byte GsoUdpL4 = 5;

    /// <summary>Flag on <see cref="GsoType"/>: the TCP segments carry ECN (set CWR on the first only).</summary>
    public const byte GsoEcn = 0x80;

    /// <summary>The header of a plain packet: no checksum work, no segmentation.</summary>
    public static VirtioNetHeader None => default;

    /// <summary>Whether <see cref="Flags"/> has <see cref="FlagNeedsChecksum"/>.</summary>
    public bool NeedsChecksum => (Flags & FlagNeedsChecksum) != 0;

    /// <summary>Whether this describes a super-packet to segment (any <see cref="GsoType"/> but <see cref="GsoNone"/>).</summary>
    public bool IsGso => (GsoType & ~GsoEcn) != GsoNone;

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is shorter than <see cref="Size"/>.</exception>
    public static VirtioNetHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new ArgumentException($"A virtio_net_hdr is {Size} bytes.", nameof(source));
        }

        return new VirtioNetHeader(
            source[0],
            source[1],
            BinaryPrimitives.ReadUInt16LittleEndian(source[2..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            BinaryPrimitives.ReadUInt16LittleEndian(source[8..]));
    }

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Size"/>.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A virtio_net_hdr is {Size} bytes.", nameof(destination));
        }

        destination[0] = Flags;
        destination[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], ChecksumOffset);
    }
}
