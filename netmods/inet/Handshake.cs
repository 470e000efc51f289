using System.Buffers.Binary;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>What <see cref="Handshake.TryParse(ReadOnlySpan{byte}, out Hello)"/> made of the bytes received so far.</summary>
internal enum HelloStatus
{
    /// <summary>Too few bytes to decide; read more.</summary>
    Incomplete,

    /// <summary>A valid hello of this protocol version.</summary>
    Valid,

    /// <summary>The bytes do not start with the magic: not a Router inet peer.</summary>
    BadMagic,

    /// <summary>A Router inet peer speaking another protocol version (in <see cref="Hello.Version"/>).</summary>
    UnsupportedVersion,

    /// <summary>Right magic and version, but a field is impossible (no address, tiny frame size).</summary>
    Invalid,
}

/// <summary>The hello each side sends first on a new connection.</summary>
/// <param name="Version">The sender's protocol version.</param>
/// <param name="Flags">Reserved; sent as 0, ignored on receipt.</param>
/// <param name="Address">The sender's router address.</param>
/// <param name="MaxFrameSize">The largest frame the sender accepts.</param>
internal readonly record struct Hello(ushort Version, ushort Flags, RouterAddress Address, uint MaxFrameSize);

/// <summary>
/// Encodes and parses the 44-byte hello of the inet link protocol (README.md). Pure functions.
/// </summary>
/// <remarks>
/// The magic and version sit in the first 8 bytes and every future version must keep them
/// there, so a v1 router can name the version of any newer peer before refusing it, whatever
/// the length of that peer's hello.
/// </remarks>
internal static class Handshake
{
    /// <summary>Bytes in a version 1 hello.</summary>
    public const int HelloSize = 44;

    /// <summary>The protocol version this router speaks.</summary>
    public const ushort ProtocolVersion = 1;

    /// <summary>The smallest max frame size a peer may advertise (the smallest MaxFrameSize setting).</summary>
    public const int MinimumFrameSize = 1024;

    private const int VersionedPrefixSize = 8;

    /// <summary>"RTRI": Router, inet.</summary>
    public static ReadOnlySpan<byte> Magic => "RTRI"u8;

    /// <summary>Writes this router's hello into the first <see cref="HelloSize"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteHello(Span<byte> destination, RouterAddress address, int maxFrameSize)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], ProtocolVersion);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], 0);
        address.Write(destination.Slice(8, RouterAddress.Length));
        BinaryPrimitives.WriteUInt32BigEndian(destination[40..], (uint)maxFrameSize);
    }

    /// <summary>
    /// Parses the start of what a peer sent. Decides as early as the bytes allow: a wrong
    /// first byte is <see cref="HelloStatus.BadMagic"/> at once, so garbage never waits for
    /// the handshake timeout. On <see cref="HelloStatus.Valid"/> the hello took exactly
    /// <see cref="HelloSize"/> bytes.
    /// </summary>
    public static HelloStatus TryParse(ReadOnlySpan<byte> data, out Hello hello)
    {
        hello = default;
        var magicBytes = Math.Min(data.Length, Magic.Length);
        if (!data[..magicBytes].SequenceEqual(Magic[..magicBytes]))
        {
            return HelloStatus.BadMagic;
        }

        if (data.Length < VersionedPrefixSize)
        {
            return HelloStatus.Incomplete;
        }

        var version = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        if (version != ProtocolVersion)
        {
            hello = new Hello(version, 0, RouterAddress.None, 0);
            return HelloStatus.UnsupportedVersion;
        }

        if (data.Length < HelloSize)
        {
            return HelloStatus.Incomplete;
        }

        hello = new Hello(
            version,
            BinaryPrimitives.ReadUInt16BigEndian(data[6..]),
            RouterAddress.Read(data.Slice(8, RouterAddress.Length)),
            BinaryPrimitives.ReadUInt32BigEndian(data[40..]));
        return hello.Address.IsNone || hello.MaxFrameSize < MinimumFrameSize ? HelloStatus.Invalid : HelloStatus.Valid;
    }
}
