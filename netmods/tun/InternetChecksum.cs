using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Router.Netmods.Tun;

/// <summary>
/// The Internet checksum (RFC 1071): the ones'-complement sum of 16-bit big-endian words.
/// </summary>
/// <remarks>
/// The sum is accumulated 8 bytes at a time in native byte order, with the carry out of each
/// addition added back in (end-around carry). Ones'-complement addition commutes with swapping
/// the bytes of every word, so the native-order sum, folded to 16 bits, is the byte-swapped
/// network-order sum on a little-endian machine; <see cref="Fold"/> swaps it back. Every span
/// passed to <see cref="Add"/> must start at an even offset of the checksummed data, and only
/// the last may have odd length.
/// </remarks>
internal static class InternetChecksum
{
    /// <summary>Adds <paramref name="data"/> to the running native-order sum <paramref name="sum"/>.</summary>
    public static ulong Add(ReadOnlySpan<byte> data, ulong sum)
    {
        while (data.Length >= 32)
        {
            sum = AddCarry(sum, MemoryMarshal.Read<ulong>(data));
            sum = AddCarry(sum, MemoryMarshal.Read<ulong>(data[8..]));
            sum = AddCarry(sum, MemoryMarshal.Read<ulong>(data[16..]));
            sum = AddCarry(sum, MemoryMarshal.Read<ulong>(data[24..]));
            data = data[32..];
        }

        while (data.Length >= 8)
        {
            sum = AddCarry(sum, MemoryMarshal.Read<ulong>(data));
            data = data[8..];
        }

        if (data.Length >= 4)
        {
            sum = AddCarry(sum, MemoryMarshal.Read<uint>(data));
            data = data[4..];
        }

        if (data.Length >= 2)
        {
            sum = AddCarry(sum, MemoryMarshal.Read<ushort>(data));
            data = data[2..];
        }

        if (data.Length == 1)
        {
            // The odd byte is the high byte of a word padded with zero: in native order on a
            // little-endian machine that is the low byte of a word read from memory.
            sum = AddCarry(sum, BitConverter.IsLittleEndian ? data[0] : (ulong)data[0] << 8);
        }

        return sum;
    }

    /// <summary>Folds a native-order running sum to the 16-bit ones'-complement sum, as a network-order value (not complemented).</summary>
    public static ushort Fold(ulong sum)
    {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
        sum = (sum & 0xffff_ffff) + (sum >> 32);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        var folded = (ushort)sum;
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
    }

    /// <summary>
    /// Adds the TCP/UDP pseudo-header of an IP packet: source and destination addresses, the
    /// transport protocol and <paramref name="transportLength"/>.
    /// </summary>
    /// <param name="packet">The IP packet (its header holds the addresses).</param>
    /// <param name="family">IPv4 or IPv6.</param>
    /// <param name="protocol">The transport protocol number (6 for TCP, 17 for UDP).</param>
    /// <param name="transportLength">Length of the transport header and payload.</param>
    /// <param name="sum">The running native-order sum.</param>
    public static ulong AddPseudoHeader(ReadOnlySpan<byte> packet, AddressFamily family, byte protocol, int transportLength, ulong sum)
    {
        Span<byte> tail = stackalloc byte[8];
        tail.Clear();
        if (family == AddressFamily.InterNetwork)
        {
            sum = Add(packet.Slice(12, 8), sum);

            // zero, protocol, 16-bit length
            tail[1] = protocol;
            BinaryPrimitives.WriteUInt16BigEndian(tail[2..], (ushort)transportLength);
            return Add(tail[..4], sum);
        }

        sum = Add(packet.Slice(8, 32), sum);

        // 32-bit length, three zero bytes, next header
        BinaryPrimitives.WriteUInt32BigEndian(tail, (uint)transportLength);
        tail[7] = protocol;
        return Add(tail, sum);
    }

    /// <summary>The value to store in a checksum field: the complement of the folded sum, with 0 sent as 0xffff (the same number in ones' complement, and required by UDP).</summary>
    public static ushort Finish(ulong sum)
    {
        var value = (ushort)~Fold(sum);
        return value == 0 ? (ushort)0xffff : value;
    }

    private static ulong AddCarry(ulong sum, ulong value)
    {
        var result = sum + value;
        return result + (result < value ? 1UL : 0UL);
    }
}
