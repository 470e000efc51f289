using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>
/// The udp netmod's settings, read from its configuration section (<c>Netmods:udp</c>).
/// <see cref="Parse"/> is the one reader: <see cref="UdpFactory.Validate"/> reports what it
/// collects and <see cref="UdpFactory.Create"/> uses what it returns, so both agree.
/// </summary>
/// <remarks>
/// The section is read with the SDK's <see cref="NetmodConfigReader"/> rather than the
/// configuration binder, so the plugin carries no dependency beyond the SDK and every problem,
/// unknown keys included, is reported at once in the same words as every other netmod.
/// Every key is described in README.md.
/// </remarks>
internal sealed record UdpOptions
{
    /// <summary>The port in the default listen address.</summary>
    public const int DefaultPort = 5861;

    /// <summary>The port beacons are sent to and heard on.</summary>
    public const int DefaultDiscoveryPort = 5862;

    private static readonly string[] KnownKeys =
    [
        "Enabled", "Listen", "Peers", "Discovery", "DiscoveryIntervalSeconds", "DiscoveryPort", "DiscoveryInterfaces",
        "MaxFrameSize", "KeepaliveSeconds", "DeadPeerTimeoutSeconds", "ReconnectMinSeconds", "ReconnectMaxSeconds",
        "SocketBufferBytes", "MaxInboundPaths", "MaxInboundPathsPerAddress", "HandshakeRatePerAddress", "HandshakeBurstPerAddress",
        "Offload",
    ];

    /// <summary>
    /// Whether link sockets hand runs of frames to the kernel as one segmented send (UDP_SEGMENT)
    /// and let it coalesce arriving datagrams (UDP_GRO). Falls back by itself where the kernel
    /// cannot; false sends and receives one datagram per system call.
    /// </summary>
    public bool Offload { get; init; } = true;

    /// <summary>Sockets to bind. Empty means one dual-stack socket on a free port, to peer outwards only.</summary>
    public IReadOnlyList<HostEndpoint> Listen { get; init; } = [new HostEndpoint("::", DefaultPort)];

    /// <summary>Peers to hello and keep linked.</summary>
    public IReadOnlyList<HostEndpoint> Peers { get; init; } = [];

    /// <summary>Whether to send and hear LAN discovery beacons.</summary>
    public bool Discovery { get; init; } = true;

    /// <summary>Time between beacons (and interface re-scans).</summary>
    public TimeSpan DiscoveryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The UDP port beacons go to; the same on every router of a LAN.</summary>
    public int DiscoveryPort { get; init; } = DefaultDiscoveryPort;

    /// <summary>Interface names to beacon on; empty means every eligible interface.</summary>
    public IReadOnlyList<string> DiscoveryInterfaces { get; init; } = [];

    /// <summary>Largest frame accepted and sent, in bytes (without the type byte).</summary>
    public int MaxFrameSize { get; init; } = 1400;

    /// <summary>Send a keepalive on a path after this long without sending anything on it.</summary>
    public TimeSpan Keepalive { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Drop a path (and the neighbour with its last path) after this long without hearing from it.</summary>
    public TimeSpan DeadPeerTimeout { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>First delay between hellos to a configured peer that has not answered.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>Longest delay between hellos to a configured peer that has not answered.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>SO_RCVBUF and SO_SNDBUF to ask for; 0 leaves the kernel's defaults.</summary>
    public int SocketBufferBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Paths at once that no configured peer accounts for (learned from hellos, hello-acks and
    /// discovery); a hello or ack that would add one more is dropped unanswered.
    /// </summary>
    public int MaxInboundPaths { get; init; } = 1024;

    /// <summary>As <see cref="MaxInboundPaths"/>, for paths whose remote is one IP address (IPv4-mapped counts as IPv4).</summary>
    public int MaxInboundPathsPerAddress { get; init; } = 8;

    /// <summary>Hellos, hello-acks and beacons accepted per second from one IP address, on average.</summary>
    public int HandshakeRatePerAddress { get; init; } = 20;

    /// <summary>Hellos, hello-acks and beacons accepted at once from one IP address.</summary>
    public int HandshakeBurstPerAddress { get; init; } = 40;

    /// <summary>
    /// Reads <paramref name="section"/>. Returns the options when the section is valid;
    /// otherwise returns null and adds every problem found to <paramref name="errors"/>,
    /// each a sentence naming the key. Never throws for bad input.
    /// </summary>
    public static UdpOptions? Parse(IConfiguration section, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var defaults = new UdpOptions();
        var reader = new NetmodConfigReader(section, UdpFactory.NetmodName, KnownKeys);

        // The router reads Enabled itself; checking it here means --check reports a typo in it too.
        reader.ReadBool("Enabled", true);
        var listen = reader.ReadListenEndpoints("Listen", defaults.Listen, DefaultPort);
        var peers = reader.ReadPeerEndpoints("Peers", DefaultPort);
        var discovery = reader.ReadBool("Discovery", defaults.Discovery);
        var interval = reader.ReadSeconds("DiscoveryIntervalSeconds", defaults.DiscoveryInterval);
        var discoveryPort = reader.ReadInt("DiscoveryPort", defaults.DiscoveryPort, 1, 65535);
        var interfaces = reader.ReadStrings("DiscoveryInterfaces", "interface name", "eth0");
        var maxFrameSize = reader.ReadInt("MaxFrameSize", defaults.MaxFrameSize, Wire.MinimumFrameSize, Wire.MaximumFrameSize);
        var keepalive = reader.ReadSeconds("KeepaliveSeconds", defaults.Keepalive);
        var dead = reader.ReadSeconds("DeadPeerTimeoutSeconds", defaults.DeadPeerTimeout);
        var reconnectMin = reader.ReadSeconds("ReconnectMinSeconds", defaults.ReconnectMin);
        var reconnectMax = reader.ReadSeconds("ReconnectMaxSeconds", defaults.ReconnectMax);
        var socketBuffer = reader.ReadInt("SocketBufferBytes", defaults.SocketBufferBytes, 0, 1 << 30);
        var maxInboundPaths = reader.ReadInt("MaxInboundPaths", defaults.MaxInboundPaths, 1, 1_000_000);
        var maxInboundPathsPerAddress = reader.ReadInt("MaxInboundPathsPerAddress", defaults.MaxInboundPathsPerAddress, 1, 1_000_000);
        var handshakeRate = reader.ReadInt("HandshakeRatePerAddress", defaults.HandshakeRatePerAddress, 1, 1_000_000);
        var handshakeBurst = reader.ReadInt("HandshakeBurstPerAddress", defaults.HandshakeBurstPerAddress, 1, 1_000_000);
        var offload = reader.ReadBool("Offload", defaults.Offload);

        if (socketBuffer is > 0 and < 65536)
        {
            reader.Report("SocketBufferBytes", $"{socketBuffer} is below 65536; use 0 to keep the kernel's default buffers.");
        }

        if (keepalive is { } k && dead is { } d && d <= k)
        {
            reader.Report("DeadPeerTimeoutSeconds", $"{NetmodConfigReader.FormatSeconds(d)} must be greater than KeepaliveSeconds ({NetmodConfigReader.FormatSeconds(k)}), or every quiet link would be declared dead.");
        }

        if (reconnectMin is { } rmin && reconnectMax is { } rmax && rmax < rmin)
        {
            reader.Report("ReconnectMaxSeconds", $"{NetmodConfigReader.FormatSeconds(rmax)} must be at least ReconnectMinSeconds ({NetmodConfigReader.FormatSeconds(rmin)}).");
        }

        if (listen is not null && discoveryPort is { } dp && listen.Any(l => l.Port == dp))
        {
            reader.Report("DiscoveryPort", $"{dp} is also a Listen port; beacons and links need different ports.");
        }

        foreach (var problem in reader.Problems)
        {
            errors.Add(problem);
        }

        return reader.HasProblems ? null : new UdpOptions
        {
            Listen = listen!,
            Peers = peers!,
            Discovery = discovery!.Value,
            DiscoveryInterval = interval!.Value,
            DiscoveryPort = discoveryPort!.Value,
            DiscoveryInterfaces = interfaces!,
            MaxFrameSize = maxFrameSize!.Value,
            Keepalive = keepalive!.Value,
            DeadPeerTimeout = dead!.Value,
            ReconnectMin = reconnectMin!.Value,
            ReconnectMax = reconnectMax!.Value,
            SocketBufferBytes = socketBuffer!.Value,
            MaxInboundPaths = maxInboundPaths!.Value,
            MaxInboundPathsPerAddress = maxInboundPathsPerAddress!.Value,
            HandshakeRatePerAddress = handshakeRate!.Value,
            HandshakeBurstPerAddress = handshakeBurst!.Value,
            Offload = offload!.Value,
        };
    }
}
