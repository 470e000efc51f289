using System.Net;
using System.Net.Sockets;

namespace Router.Routing;

/// <summary>
/// The prefix block of an origin statement (<see cref="OriginProof.PrefixBlock"/>): the IPv4
/// and IPv6 prefixes a router serves, signed with its route, so no other router can claim
/// them for it.
/// <code>
/// u8 count, then count times:
///   u8 family (4 or 6)   u8 prefix length (≤ 32 or ≤ 128)   ceil(length / 8) bytes of the network address
/// </code>
/// Host bits are zero, prefixes are in canonical order (IPv4 first, then by address and
/// length) and listed once, and nothing follows the last one: one set of prefixes has exactly
/// one encoding, so the signature covers the set, not a spelling of it. At most
/// <see cref="OriginProof.MaxPrefixBlockLength"/> bytes, which fits the route entry.
/// </summary>
internal static class AnnouncedPrefixes
{
    /// <summary>The bytes one prefix takes in the block.</summary>
    public static int EncodedLength(IPNetwork prefix) => 2 + ((prefix.PrefixLength + 7) / 8);

    /// <summary>
    /// Sorts, checks and encodes <paramref name="prefixes"/>; null with a reason when they do not
    /// fit a route entry. (An <see cref="IPNetwork"/> always has its host bits zero.)
    /// </summary>
    public static byte[]? TryEncode(IEnumerable<IPNetwork> prefixes, out string? problem)
    {
        var sorted = Canonical(prefixes);
        var length = 1 + sorted.Sum(EncodedLength);
        problem = null;
        if (sorted.Count > byte.MaxValue || length > OriginProof.MaxPrefixBlockLength)
        {
            problem = $"the prefixes take {length} bytes; a route announcement carries at most {OriginProof.MaxPrefixBlockLength}";
            return null;
        }

        var block = new byte[length];
        block[0] = (byte)sorted.Count;
        var position = 1;
        Span<byte> address = stackalloc byte[16];
        foreach (var prefix in sorted)
        {
            var v4 = prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
            block[position] = v4 ? (byte)4 : (byte)6;
            block[position + 1] = (byte)prefix.PrefixLength;
            prefix.BaseAddress.TryWriteBytes(address, out _);
            var bytes = (prefix.PrefixLength + 7) / 8;
            address[..bytes].CopyTo(block.AsSpan(position + 2));
            position += 2 + bytes;
        }

        return block;
    }

    /// <summary>
    /// Decodes a prefix block into <paramref name="prefixes"/> (cleared first). False, with
    /// <paramref name="prefixes"/> empty, when the block is not in the canonical form above.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> block, List<IPNetwork> prefixes)
    {
        prefixes.Clear();
        if (block.IsEmpty)
        {
            return false;
        }

        var count = block[0];
        var position = 1;
        Span<byte> address = stackalloc byte[16];
        for (var i = 0; i < count; i++)
        {
            if (position + 2 > block.Length)
            {
                return Fail(prefixes);
            }

            var family = block[position];
            int length = block[position + 1];
            var size = family switch { 4 => 4, 6 => 16, _ => 0 };
            var bytes = (length + 7) / 8;
            if (size == 0 || length > size * 8 || position + 2 + bytes > block.Length)
            {
                return Fail(prefixes);
            }

            address.Clear();
            block.Slice(position + 2, bytes).CopyTo(address);
            if (length % 8 != 0 && (address[bytes - 1] & (0xff >> (length % 8))) != 0)
            {
                return Fail(prefixes); // host bits set
            }

            var prefix = new IPNetwork(new IPAddress(address[..size]), length);
            if (prefixes.Count > 0 && Compare(prefixes[^1], prefix) >= 0)
            {
                return Fail(prefixes); // not canonical: out of order or repeated
            }

            prefixes.Add(prefix);
            position += 2 + bytes;
        }

        return position == block.Length || Fail(prefixes);
    }

    /// <summary>Canonical order: IPv4 before IPv6, then by address bytes, then shorter first; duplicates removed.</summary>
    public static List<IPNetwork> Canonical(IEnumerable<IPNetwork> prefixes)
    {
        var list = prefixes.Distinct().ToList();
        list.Sort(Compare);
        return list;
    }

    public static int Compare(IPNetwork a, IPNetwork b)
    {
        var family = a.BaseAddress.AddressFamily.CompareTo(b.BaseAddress.AddressFamily);
        if (family != 0)
        {
            return family;
        }

        var bytes = a.BaseAddress.GetAddressBytes().AsSpan().SequenceCompareTo(b.BaseAddress.GetAddressBytes());
        return bytes != 0 ? bytes : a.PrefixLength.CompareTo(b.PrefixLength);
    }

    private static bool Fail(List<IPNetwork> prefixes)
    {
        prefixes.Clear();
        return false;
    }
}
