using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Router.Sdk;

/// <summary>
/// A router's address on the mesh: 32 bytes, the SHA-256 hash of its public key.
/// Written as eight groups of eight lowercase hex digits joined by '-'
/// (e.g. <c>9f86d081-884c7d65-…</c>); parsing also accepts 64 hex digits with no separators,
/// in either case. A value type with no heap state: comparing and hashing allocate nothing.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly struct RouterAddress : IEquatable<RouterAddress>, IComparable<RouterAddress>
{
    /// <summary>Length of an address in bytes.</summary>
    public const int Length = 32;

    private readonly ulong _a, _b, _c, _d;

    private RouterAddress(ulong a, ulong b, ulong c, ulong d) => (_a, _b, _c, _d) = (a, b, c, d);

    /// <summary>The all-zero address. No router has it; it marks "no address".</summary>
    public static RouterAddress None => default;

    /// <summary>Whether this is the all-zero <see cref="None"/> address.</summary>
    public bool IsNone => (_a | _b | _c | _d) == 0;

    /// <summary>Reads an address from exactly <see cref="Length"/> bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> is not 32 bytes long.</exception>
    public static RouterAddress Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A router address is {Length} bytes, not {bytes.Length}.", nameof(bytes));
        }

        return new RouterAddress(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));
    }

    /// <summary>Writes the 32 address bytes into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 32 bytes.</exception>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException($"A router address needs {Length} bytes.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _a);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], _d);
    }

    /// <summary>Returns the 32 address bytes as a new array.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        Write(bytes);
        return bytes;
    }

    /// <summary>Parses the text form; see <see cref="TryParse"/>.</summary>
    /// <exception cref="FormatException">The text is not an address.</exception>
    public static RouterAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not a router address (64 hex digits, optionally in groups joined by '-').");

    /// <summary>
    /// Parses 64 hex digits, optionally separated by '-' (any grouping), in either case.
    /// </summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out RouterAddress address)
    {
        address = default;
        if (text is null)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[Length];
        var count = 0;
        var high = -1;
        foreach (var ch in text.AsSpan().Trim())
        {
            if (ch == '-')
            {
                continue;
            }

            var nibble = HexValue(ch);
            if (nibble < 0 || count == Length)
            {
                return false;
            }

            if (high < 0)
            {
                high = nibble;
            }
            else
            {
                bytes[count++] = (byte)((high << 4) | nibble);
                high = -1;
            }
        }

        if (count != Length || high >= 0)
        {
            return false;
        }

        address = Read(bytes);
        return true;
    }

    private static int HexValue(char ch) => ch switch
    {
        >= '0' and <= '9' => ch - '0',
        >= 'a' and <= 'f' => ch - 'a' + 10,
        >= 'A' and <= 'F' => ch - 'A' + 10,
        _ => -1,
    };

    /// <summary>The text form: eight groups of eight lowercase hex digits joined by '-'.</summary>
    public override string ToString() =>
        string.Create(71, this, static (chars, address) =>
        {
            Span<ulong> words = [address._a, address._b, address._c, address._d];
            var position = 0;
            for (var w = 0; w < 4; w++)
            {
                for (var half = 0; half < 2; half++)
                {
                    if (position > 0)
                    {
                        chars[position++] = '-';
                    }

                    var value = (uint)(words[w] >> (half == 0 ? 32 : 0));
                    value.TryFormat(chars.Slice(position, 8), out _, "x8", null);
                    position += 8;
                }
            }
        });

    /// <summary>The first group of the text form, for compact display in logs and tables.</summary>
    public string ToShortString() => ((uint)(_a >> 32)).ToString("x8", null);

    /// <inheritdoc />
    public bool Equals(RouterAddress other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is RouterAddress other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_a, _b, _c, _d);

    /// <summary>Orders addresses by their bytes, as unsigned big-endian numbers.</summary>
    public int CompareTo(RouterAddress other)
    {
        var c = _a.CompareTo(other._a);
        if (c != 0)
        {
            return c;
        }

        c = _b.CompareTo(other._b);
        if (c != 0)
        {
            return c;
        }

        c = _c.CompareTo(other._c);
        return c != 0 ? c : _d.CompareTo(other._d);
    }

    /// <summary>Equality of two addresses.</summary>
    public static bool operator ==(RouterAddress left, RouterAddress right) => left.Equals(right);

    /// <summary>Inequality of two addresses.</summary>
    public static bool operator !=(RouterAddress left, RouterAddress right) => !left.Equals(right);

    /// <summary>Byte order comparison.</summary>
    public static bool operator <(RouterAddress left, RouterAddress right) => left.CompareTo(right) < 0;

    /// <summary>Byte order comparison.</summary>
    public static bool operator >(RouterAddress left, RouterAddress right) => left.CompareTo(right) > 0;

    /// <summary>Byte order comparison.</summary>
    public static bool operator <=(RouterAddress left, RouterAddress right) => left.CompareTo(right) <= 0;

    /// <summary>Byte order comparison.</summary>
    public static bool operator >=(RouterAddress left, RouterAddress right) => left.CompareTo(right) >= 0;
}
