using System.Buffers;
using System.Buffers.Binary;

namespace Router.Netmods.Inet;

/// <summary>What <see cref="Framing.TryRead"/> found at the start of a buffer.</summary>
internal enum FrameStatus
{
    /// <summary>Not enough bytes yet for a whole frame; the buffer is untouched.</summary>
    Incomplete,

    /// <summary>A frame; its payload is returned and the buffer advanced past it.</summary>
    Frame,

    /// <summary>A keepalive (length 0); the buffer is advanced past it.</summary>
    Keepalive,

    /// <summary>The retire marker: the peer will send nothing more on this connection.</summary>
    Retire,

    /// <summary>A length above the receiver's maximum; the connection must be closed.</summary>
    TooLarge,
}

/// <summary>
/// The frame layer of the inet link protocol (see README.md, "inet link protocol"):
/// a big-endian u32 length followed by that many bytes. Pure functions, no state.
/// </summary>
internal static class Framing
{
    /// <summary>Bytes in a frame header.</summary>
    public const int HeaderSize = 4;

    /// <summary>
    /// The length value that means "this connection is retired": it can never be a real
    /// length because no receiver accepts frames above 16 MiB.
    /// </summary>
    public const uint RetireMarker = uint.MaxValue;

    /// <summary>
    /// Reads one frame from the start of <paramref name="buffer"/> and, unless the result is
    /// <see cref="FrameStatus.Incomplete"/> or <see cref="FrameStatus.TooLarge"/>, advances the
    /// buffer past it. <paramref name="payload"/> is a slice of the input, valid until the
    /// input is released.
    /// </summary>
    /// <param name="buffer">Received bytes.</param>
    /// <param name="maxFrameSize">The largest payload this receiver accepts.</param>
    /// <param name="payload">The frame's bytes when the result is <see cref="FrameStatus.Frame"/>.</param>
    /// <param name="length">The length field, when at least a header was available.</param>
    public static FrameStatus TryRead(ref ReadOnlySequence<byte> buffer, int maxFrameSize, out ReadOnlySequence<byte> payload, out uint length)
    {
        payload = default;
        length = 0;
        if (buffer.Length < HeaderSize)
        {
            return FrameStatus.Incomplete;
        }

        length = ReadHeader(buffer);
        if (length == 0)
        {
            buffer = buffer.Slice(HeaderSize);
            return FrameStatus.Keepalive;
        }

        if (length == RetireMarker)
        {
            buffer = buffer.Slice(HeaderSize);
            return FrameStatus.Retire;
        }

        if (length > (uint)maxFrameSize)
        {
            return FrameStatus.TooLarge;
        }

        if (buffer.Length - HeaderSize < length)
        {
            return FrameStatus.Incomplete;
        }

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return FrameStatus.Frame;
    }

    /// <summary>Writes the header of a frame of <paramref name="length"/> bytes (0 for a keepalive).</summary>
    public static void WriteHeader(Span<byte> destination, uint length) =>
        BinaryPrimitives.WriteUInt32BigEndian(destination, length);

    /// <summary>The length field of the header at the start of <paramref name="source"/> (at least <see cref="HeaderSize"/> bytes).</summary>
    public static uint ReadHeader(ReadOnlySpan<byte> source) =>
        BinaryPrimitives.ReadUInt32BigEndian(source);

    private static uint ReadHeader(in ReadOnlySequence<byte> buffer)
    {
        var first = buffer.FirstSpan;
        if (first.Length >= HeaderSize)
        {
            return ReadHeader(first);
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        return ReadHeader(header);
    }
}
