// The udp link protocol's datagram formats (README.md, "udp link protocol"): one datagram
// carries one router frame or one control message, and its first byte says which.
//
// Every control datagram (hello, hello-ack, beacon) has the magic at byte 1 and the version
// at byte 5, and every future version must keep them there, so this version can name the
// version of any newer peer before refusing it. Data and keepalive datagrams carry no version:
// they only flow between routers whose hellos agreed on one.
using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>The first byte of every datagram.</summary>
internal enum DatagramType : byte
{
    /// <summary>One router frame follows; the rest of the datagram is the frame.</summary>
    Data = 0x01,

    /// <summary>Nothing follows: "still here", sent on a path idle for a keepalive interval.</summary>
    Keepalive = 0x02,

    /// <summary>"I am this router; link with me." Always answered with a hello-ack.</summary>
    Hello = 0x03,

    /// <summary>The answer to a hello, with the same fields. Never answered.</summary>
    HelloAck = 0x04,

    /// <summary>A LAN discovery beacon, sent to the discovery group or broadcast address.</summary>
    Beacon = 0x05,
}

/// <summary>What a control datagram's parser made of it.</summary>
internal enum ParseStatus
{
    /// <summary>A well-formed message of this protocol version.</summary>
    Valid,

    /// <summary>Shorter than its type requires.</summary>
    Truncated,

    /// <summary>The magic is wrong: not a Router udp datagram.</summary>
    BadMagic,

    /// <summary>A Router udp peer speaking another protocol version (the version is reported).</summary>
    UnsupportedVersion,

    /// <summary>Right magic and version, but a field is impossible (no address, tiny frame size, port 0).</summary>
    Invalid,
}

/// <summary>A hello or hello-ack: who the sender is and the largest frame it accepts.</summary>
/// <param name="Version">The sender's protocol version.</param>
/// <param name="Flags">Reserved; sent as 0, ignored on receipt.</param>
/// <param name="Address">The sender's router address.</param>
/// <param name="MaxFrameSize">The largest frame (without the type byte) the sender accepts.</param>
internal readonly record struct LinkHello(ushort Version, ushort Flags, RouterAddress Address, uint MaxFrameSize);

/// <summary>A discovery beacon: who the sender is and the port its link socket answers on.</summary>
/// <param name="Version">The sender's protocol version.</param>
/// <param name="Flags">Reserved; sent as 0, ignored on receipt.</param>
/// <param name="Address">The sender's router address.</param>
/// <param name="Port">The UDP port of the sender's link socket, to send a hello to.</param>
internal readonly record struct Beacon(ushort Version, ushort Flags, RouterAddress Address, ushort Port);

/// <summary>Encodes and parses udp datagrams. Pure functions; the parsers never throw.</summary>
internal static class Wire
{
    /// <summary>The protocol version this router speaks.</summary>
    public const ushort ProtocolVersion = 1;

    /// <summary>Bytes before the frame in a data datagram.</summary>
    public const int DataHeaderSize = 1;

    /// <summary>Bytes in a version 1 hello or hello-ack.</summary>
    public const int HelloSize = 45;

    /// <summary>Bytes in a version 1 beacon.</summary>
    public const int BeaconSize = 43;

    /// <summary>The smallest max frame size a peer may advertise (the smallest MaxFrameSize setting).</summary>
    public const int MinimumFrameSize = 256;

    /// <summary>The largest MaxFrameSize setting: with the type byte and the UDP header it fits an IPv4 datagram.</summary>
    public const int MaximumFrameSize = 65_000;

    /// <summary>Bytes every control datagram starts with: type, magic, version.</summary>
    private const int VersionedPrefixSize = 7;

    private const int MagicOffset = 1;
    private const int VersionOffset = 5;
    private const int FlagsOffset = 7;
    private const int AddressOffset = 9;
    private const int TailOffset = AddressOffset + RouterAddress.Length;

    /// <summary>"RTRU": Router, udp.</summary>
    public static ReadOnlySpan<byte> Magic => "RTRU"u8;

    /// <summary>Writes a hello (or hello-ack) into <paramref name="destination"/>; returns its length.</summary>
    public static int WriteHello(Span<byte> destination, DatagramType type, RouterAddress address, int maxFrameSize, ushort version = ProtocolVersion)
    {
        WritePrefix(destination, type, version, address);
        BinaryPrimitives.WriteUInt32BigEndian(destination[TailOffset..], (uint)maxFrameSize);
        return HelloSize;
    }

    /// <summary>Writes a beacon into <paramref name="destination"/>; returns its length.</summary>
    public static int WriteBeacon(Span<byte> destination, RouterAddress address, int port, ushort version = ProtocolVersion)
    {
        WritePrefix(destination, DatagramType.Beacon, version, address);
        BinaryPrimitives.WriteUInt16BigEndian(destination[TailOffset..], (ushort)port);
        return BeaconSize;
    }

    /// <summary>
    /// Parses a hello or hello-ack (the type byte is not checked: the caller dispatched on it).
    /// On <see cref="ParseStatus.UnsupportedVersion"/> only <see cref="LinkHello.Version"/> is set.
    /// Bytes past <see cref="HelloSize"/> are ignored, room for later versions to extend it.
    /// </summary>
    public static ParseStatus ParseHello(ReadOnlySpan<byte> datagram, out LinkHello hello)
    {
        hello = default;
        var status = ParsePrefix(datagram, HelloSize, out var version);
        if (status == ParseStatus.UnsupportedVersion)
        {
            hello = new LinkHello(version, 0, RouterAddress.None, 0);
        }

        if (status != ParseStatus.Valid)
        {
            return status;
        }

        hello = new LinkHello(
            version,
            BinaryPrimitives.ReadUInt16BigEndian(datagram[FlagsOffset..]),
            RouterAddress.Read(datagram.Slice(AddressOffset, RouterAddress.Length)),
            BinaryPrimitives.ReadUInt32BigEndian(datagram[TailOffset..]));
        return hello.Address.IsNone || hello.MaxFrameSize < MinimumFrameSize ? ParseStatus.Invalid : ParseStatus.Valid;
    }

    /// <summary>Parses a beacon, as <see cref="ParseHello"/> does a hello.</summary>
    public static ParseStatus ParseBeacon(ReadOnlySpan<byte> datagram, out Beacon beacon)
    {
        beacon = default;
        var status = ParsePrefix(datagram, BeaconSize, out var version);
        if (status == ParseStatus.UnsupportedVersion)
        {
            beacon = new Beacon(version, 0, RouterAddress.None, 0);
        }

        if (status != ParseStatus.Valid)
        {
            return status;
        }

        beacon = new Beacon(
            version,
            BinaryPrimitives.ReadUInt16BigEndian(datagram[FlagsOffset..]),
            RouterAddress.Read(datagram.Slice(AddressOffset, RouterAddress.Length)),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[TailOffset..]));
        return beacon.Address.IsNone || beacon.Port == 0 ? ParseStatus.Invalid : ParseStatus.Valid;
    }

    private static void WritePrefix(Span<byte> destination, DatagramType type, ushort version, RouterAddress address)
    {
        destination[0] = (byte)type;
        Magic.CopyTo(destination[MagicOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[VersionOffset..], version);
        BinaryPrimitives.WriteUInt16BigEndian(destination[FlagsOffset..], 0);
        address.Write(destination.Slice(AddressOffset, RouterAddress.Length));
    }

    private static ParseStatus ParsePrefix(ReadOnlySpan<byte> datagram, int fullSize, out ushort version)
    {
        version = 0;
        if (datagram.Length < VersionedPrefixSize)
        {
            return ParseStatus.Truncated;
        }

        if (!datagram.Slice(MagicOffset, Magic.Length).SequenceEqual(Magic))
        {
            return ParseStatus.BadMagic;
        }

        version = BinaryPrimitives.ReadUInt16BigEndian(datagram[VersionOffset..]);
        if (version != ProtocolVersion)
        {
            return ParseStatus.UnsupportedVersion;
        }

        return datagram.Length < fullSize ? ParseStatus.Truncated : ParseStatus.Valid;
    }
}
