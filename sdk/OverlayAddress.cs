using System.Net;
using System.Net.Sockets;

namespace Router.Sdk;

/// <summary>
/// Every router's IPv6 address on the mesh, derived from its <see cref="RouterAddress"/>: the
/// unique-local prefix <see cref="Prefix"/> (<c>fd6d::/16</c>) followed by the first 14 bytes
/// (112 bits) of the router address. The router address is the hash of the router's public
/// key and routes are signed by their origin, so no router can take another's IPv6 address;
/// an accidental collision among 112-bit values is negligible. A packet to this address
/// reaches that router with no configuration (docs/routing.md).
/// </summary>
public static class OverlayAddress
{
    /// <summary>The first two bytes of every overlay address.</summary>
    public const ushort PrefixValue = 0xfd6d;

    /// <summary>Length of <see cref="Prefix"/> in bits.</summary>
    public const int PrefixLength = 16;

    /// <summary>Bytes of the router address an overlay address carries.</summary>
    public const int AddressBytes = 14;

    /// <summary>The prefix every overlay address lies in: <c>fd6d::/16</c>.</summary>
    public static IPNetwork Prefix { get; } = new(IPAddress.Parse("fd6d::"), PrefixLength);

    /// <summary>The overlay IPv6 address of the router with address <paramref name="router"/>.</summary>
    public static IPAddress For(RouterAddress router)
    {
        Span<byte> bytes = stackalloc byte[16];
        Write(router, bytes);
        return new IPAddress(bytes);
    }

    /// <summary>Writes the 16 bytes of <paramref name="router"/>'s overlay address into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 16 bytes.</exception>
    public static void Write(RouterAddress router, Span<byte> destination)
    {
        if (destination.Length < 16)
        {
            throw new ArgumentException("An IPv6 address needs 16 bytes.", nameof(destination));
        }

        Span<byte> address = stackalloc byte[RouterAddress.Length];
        router.Write(address);
        destination[0] = PrefixValue >> 8;
        destination[1] = PrefixValue & 0xff;
        address[..AddressBytes].CopyTo(destination[2..]);
    }

    /// <summary>Whether <paramref name="address"/> lies in <see cref="Prefix"/>.</summary>
    public static bool IsOverlay(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == AddressFamily.InterNetworkV6 && Prefix.Contains(address);
    }
}
