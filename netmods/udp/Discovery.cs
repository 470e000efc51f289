using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Router.Netmods.Udp;

/// <summary>
/// LAN discovery's socket and interfaces: a socket bound to <c>[::]:DiscoveryPort</c> that
/// joins <see cref="Group"/> on every eligible interface, and the list of places a beacon goes
/// — the group on each interface with an IPv6 link-local address, the IPv4 broadcast address
/// of each interface without one. Used by the control loop only.
/// </summary>
/// <remarks>
/// Interfaces come and go (a cable, a VPN, a namespace torn down): <see cref="Rescan"/> runs
/// before every round of beacons, joins and leaves the group as they change, and skips any
/// interface that fails mid-scan instead of failing the scan.
/// </remarks>
internal sealed class Discovery : IDisposable
{
    /// <summary>
    /// The discovery group: link-local scope (ff02::/16, never routed off the LAN). Group id
    /// 0x85725861 lies in RFC 3307's range for dynamically allocated ids (0x80000000–0xFFFFFFFF),
    /// so it is none of IANA's permanent link-local groups (ff02::1 all nodes, ::2 routers,
    /// ::fb mDNS, ::1:2 DHCP, ::1:6 Babel, ::114 experiments, ff02::1:ffXX:XXXX solicited-node).
    /// </summary>
    public static readonly IPAddress Group = IPAddress.Parse("ff02::8572:5861");

    private readonly UdpOptions _options;
    private readonly ILogger _logger;
    private Dictionary<string, BeaconTarget> _active = new(StringComparer.Ordinal);

    private Discovery(LinkSocket socket, UdpOptions options, ILogger logger)
    {
        Socket = socket;
        _options = options;
        _logger = logger;
    }

    /// <summary>The discovery socket; its receive thread hands beacons to the control loop.</summary>
    public LinkSocket Socket { get; }

    /// <summary>
    /// Binds the discovery socket (dual-stack; IPv4 only where the kernel has no IPv6). Returns
    /// null, after logging why, when neither can be bound: the netmod still links configured peers.
    /// </summary>
    public static Discovery? Open(UdpOptions options, int index, ILogger logger)
    {
        string? error = null;
        foreach (var any in new[] { IPAddress.IPv6Any, IPAddress.Any })
        {
            try
            {
                var socket = LinkSocket.Bind(index, new IPEndPoint(any, options.DiscoveryPort), options.SocketBufferBytes == 0 ? 0 : 256 * 1024, isDiscovery: true);
                return new Discovery(socket, options, logger);
            }
            catch (Exception e) when (e is SocketException or InvalidOperationException)
            {
                error ??= e.Message;
            }
        }

        Log.DiscoveryUnavailable(logger, error ?? "no socket could be bound");
        return null;
    }

    /// <summary>Finds the eligible interfaces and joins or leaves the group where they changed.</summary>
    public void Rescan()
    {
        NetworkInterface[] interfaces;
        try
        {
            interfaces = NetworkInterface.GetAllNetworkInterfaces();
        }
        catch (NetworkInformationException e)
        {
            Log.DiscoveryInterfaceSkipped(_logger, "(all)", e.Message);
            return;
        }

        var found = new Dictionary<string, BeaconTarget>(StringComparer.Ordinal);
        foreach (var nic in interfaces)
        {
            string name;
            try
            {
                name = nic.Name;
                if (Consider(nic, out var reason) is { } target)
                {
                    found[name] = target;
                }
                else if (reason is not null)
                {
                    Log.DiscoveryInterfaceSkipped(_logger, name, reason);
                }
            }
            catch (Exception e) when (e is NetworkInformationException or SocketException or PlatformNotSupportedException or InvalidOperationException or ArgumentException)
            {
                // The interface vanished while we looked at it; the next scan will not see it.
                Log.DiscoveryInterfaceSkipped(_logger, "(one interface)", e.Message);
            }
        }

        foreach (var (name, old) in _active)
        {
            if (!found.TryGetValue(name, out var now) || now != old)
            {
                Leave(old);
                Log.DiscoveryInterfaceRemoved(_logger, name);
            }
        }

        var active = new Dictionary<string, BeaconTarget>(StringComparer.Ordinal);
        foreach (var (name, target) in found)
        {
            if (_active.TryGetValue(name, out var old) && old == target)
            {
                active[name] = target;
                continue;
            }

            if (target.Multicast && !Join(target))
            {
                continue;
            }

            active[name] = target;
            Log.DiscoveryInterfaceAdded(_logger, name, target.Multicast ? $"IPv6 multicast to {Group}%{target.Index}" : $"IPv4 broadcast to {target.Display}");
        }

        _active = active;
    }

    /// <summary>
    /// Sends one beacon per interface: <paramref name="ipv6Beacon"/> to the group where the
    /// interface has IPv6, <paramref name="ipv4Beacon"/> to the broadcast address elsewhere.
    /// An empty beacon means no link socket can answer that family; nothing is sent for it.
    /// </summary>
    public void SendBeacons(ReadOnlySpan<byte> ipv6Beacon, ReadOnlySpan<byte> ipv4Beacon)
    {
        foreach (var target in _active.Values)
        {
            var beacon = target.Multicast ? ipv6Beacon : ipv4Beacon;
            if (beacon.IsEmpty)
            {
                continue;
            }

            try
            {
                if (SegmentedIo.Send(Socket.Socket, beacon, target.Destination, out var error) != SegmentedIo.Outcome.Done)
                {
                    // Often the interface went down since the scan; the next scan drops it.
                    Log.BeaconFailed(_logger, target.Display, SegmentedIo.Describe(error));
                }
            }
            catch (ObjectDisposedException)
            {
                return;
            }
        }
    }

    public void Dispose() => Socket.Dispose();

    private BeaconTarget? Consider(NetworkInterface nic, out string? reason)
    {
        reason = null;
        var named = _options.DiscoveryInterfaces;
        if (named.Count > 0 && !named.Contains(nic.Name, StringComparer.Ordinal))
        {
            return null;
        }

        var type = nic.NetworkInterfaceType;
        if (type == NetworkInterfaceType.Loopback)
        {
            return null;
        }

        // A TUN device (the router's own mesh interface among them), a PPP or IP-in-IP tunnel
        // has no LAN behind it to discover; an interface named in DiscoveryInterfaces is used anyway.
        if (named.Count == 0 && type is NetworkInterfaceType.Tunnel or NetworkInterfaceType.Unknown or NetworkInterfaceType.Ppp)
        {
            reason = $"not a LAN interface ({type})";
            return null;
        }

        if (nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown))
        {
            reason = $"it is {nic.OperationalStatus}";
            return null;
        }

        if (!nic.SupportsMulticast)
        {
            reason = "it does not support multicast or broadcast";
            return null;
        }

        var properties = nic.GetIPProperties();
        var port = _options.DiscoveryPort;
        if (Socket.Family == AddressFamily.InterNetworkV6
            && properties.UnicastAddresses.Any(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6 && a.Address.IsIPv6LinkLocal))
        {
            var index = properties.GetIPv6Properties().Index;
            var group = new IPEndPoint(new IPAddress(Group.GetAddressBytes(), index), port);
            return new BeaconTarget(index, Multicast: true, group.Serialize(), $"[{Group}%{index}]:{port}");
        }

        foreach (var unicast in properties.UnicastAddresses)
        {
            if (unicast.Address.AddressFamily != AddressFamily.InterNetwork || unicast.PrefixLength is < 1 or > 30)
            {
                // A /31 or /32 has no broadcast address; a LAN has one.
                continue;
            }

            var bytes = unicast.Address.GetAddressBytes();
            for (var i = 0; i < bytes.Length; i++)
            {
                // Set every host bit: the prefix covers the first PrefixLength bits.
                bytes[i] |= (byte)(0xFF >> Math.Clamp(unicast.PrefixLength - (8 * i), 0, 8));
            }

            var endpoint = new IPEndPoint(new IPAddress(bytes), port);
            return new BeaconTarget(properties.GetIPv4Properties().Index, Multicast: false, Socket.AddressFor(endpoint), LinkSocket.Format(endpoint));
        }

        reason = "no IPv6 link-local and no IPv4 LAN address";
        return null;
    }

    private bool Join(BeaconTarget target)
    {
        try
        {
            Socket.Socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(Group, target.Index));
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            return true;
        }
        catch (SocketException e)
        {
            Log.DiscoveryInterfaceSkipped(_logger, target.Display, $"cannot join the discovery group: {e.Message}");
            return false;
        }
    }

    private void Leave(BeaconTarget target)
    {
        if (!target.Multicast)
        {
            return;
        }

        try
        {
            Socket.Socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.DropMembership, new IPv6MulticastOption(Group, target.Index));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The kernel dropped the membership with the interface.
        }
    }

    /// <summary>Where one interface's beacons go.</summary>
    private sealed record BeaconTarget(long Index, bool Multicast, SocketAddress Destination, string Display);
}
