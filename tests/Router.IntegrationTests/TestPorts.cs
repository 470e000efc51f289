using System.Net;
using System.Net.Sockets;

namespace Router.IntegrationTests;

/// <summary>
/// Ports for the routers and listeners a test starts. Asking the kernel for a free port (binding
/// port 0) and releasing it is not enough: until the router binds it, any outgoing connection or
/// unbound UDP socket on the machine may be given the same port as its source, as both come from
/// the ephemeral range (<c>ip_local_port_range</c>, 32768–60999 by default) — and then the router
/// cannot listen, or its peer dials someone else. These ports are taken from below that range,
/// where the kernel never assigns one by itself: each test process starts at a random point and
/// walks on, skipping any port that is taken for TCP or UDP on any address.
/// </summary>
internal static class TestPorts
{
    private const int First = 10_000;
    private static readonly int End = EphemeralLow() is var low && low > First + 1_000 ? Math.Min(32_000, low) : 32_000;
    private static int _next = Random.Shared.Next(First, End);

    /// <summary>A port free for both TCP and UDP on every local address, outside the ephemeral range.</summary>
    public static int Next()
    {
        for (var tried = 0; tried < End - First; tried++)
        {
            var port = First + ((Interlocked.Increment(ref _next) - First) % (End - First));
            if (IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free port between {First} and {End}.");
    }

    private static bool IsFree(int port, SocketType type, ProtocolType protocol)
    {
        using var probe = new Socket(AddressFamily.InterNetworkV6, type, protocol) { DualMode = true };
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port of the kernel's ephemeral range (32768 when it cannot be read).</summary>
    private static int EphemeralLow()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(range[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32_768;
        }
    }
}
