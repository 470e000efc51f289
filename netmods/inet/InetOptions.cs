using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// The inet netmod's settings, read from its configuration section (<c>Netmods:inet</c>).
/// <see cref="Parse"/> is the one reader: <see cref="InetFactory.Validate"/> reports what it
/// collects and <see cref="InetFactory.Create"/> uses what it returns, so both agree.
/// </summary>
/// <remarks>
/// The section is read with the SDK's <see cref="NetmodConfigReader"/> rather than the
/// configuration binder, so the plugin carries no dependency beyond the SDK and every problem,
/// unknown keys included, is reported at once in the same words as every other netmod.
/// </remarks>
internal sealed record InetOptions
{
    /// <summary>The port in the default listen address.</summary>
    public const int DefaultPort = 5860;

    private static readonly string[] KnownKeys =
    [
        "Enabled", "Listen", "Peers", "MaxFrameSize", "KeepaliveSeconds", "DeadPeerTimeoutSeconds",
        "HandshakeTimeoutSeconds", "ReconnectMinSeconds", "ReconnectMaxSeconds", "SendQueueFrames",
        "MaxInboundConnections", "MaxInboundConnectionsPerAddress", "MaxPendingHandshakes",
    ];

    /// <summary>Addresses to accept connections on; empty for a router that only dials.</summary>
    public IReadOnlyList<HostEndpoint> Listen { get; init; } = [new HostEndpoint("::", DefaultPort)];

    /// <summary>Peers to dial and keep dialling.</summary>
    public IReadOnlyList<HostEndpoint> Peers { get; init; } = [];

    /// <summary>Largest frame accepted and sent, in bytes.</summary>
    public int MaxFrameSize { get; init; } = 131_072;

    /// <summary>Send a keepalive after this long without sending anything.</summary>
    public TimeSpan Keepalive { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Close a link after this long without receiving anything.</summary>
    public TimeSpan DeadPeerTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Time allowed for a connect and for the hello exchange.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>First reconnect delay.</summary>
    public TimeSpan ReconnectMin { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay.</summary>
    public TimeSpan ReconnectMax { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Frames queued per connection before senders wait.</summary>
    public int SendQueueFrames { get; init; } = 256;

    /// <summary>Inbound connections open at once, in any stage; more are closed on accept.</summary>
    public int MaxInboundConnections { get; init; } = 1024;

    /// <summary>
    /// Inbound connections open at once from one IP address (IPv4-mapped IPv6 counts as IPv4);
    /// more from that address are closed on accept. An honest router needs one, two while a
    /// duplicate link is being retired; the rest of the default leaves room for a few routers
    /// behind one NAT address.
    /// </summary>
    public int MaxInboundConnectionsPerAddress { get; init; } = 8;

    /// <summary>Inbound connections still in their hello at once; more are closed on accept.</summary>
    public int MaxPendingHandshakes { get; init; } = 256;

    /// <summary>
    /// Reads <paramref name="section"/>. Returns the options when the section is valid;
    /// otherwise returns null and adds every problem found to <paramref name="errors"/>,
    /// each a sentence naming the key. Never throws for bad input.
    /// </summary>
    public static InetOptions? Parse(IConfiguration section, ICollection<string> errors)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(errors);
        var defaults = new InetOptions();
        var reader = new NetmodConfigReader(section, InetFactory.NetmodName, KnownKeys);

        var listen = reader.ReadListenEndpoints("Listen", defaults.Listen, DefaultPort);
        var peers = reader.ReadPeerEndpoints("Peers", DefaultPort);
        var maxFrameSize = reader.ReadInt("MaxFrameSize", defaults.MaxFrameSize, Handshake.MinimumFrameSize, 16 * 1024 * 1024);
        var sendQueue = reader.ReadInt("SendQueueFrames", defaults.SendQueueFrames, 1, 65_536);
        var maxInbound = reader.ReadInt("MaxInboundConnections", defaults.MaxInboundConnections, 1, 1_000_000);
        var maxInboundPerAddress = reader.ReadInt("MaxInboundConnectionsPerAddress", defaults.MaxInboundConnectionsPerAddress, 1, 1_000_000);
        var maxPending = reader.ReadInt("MaxPendingHandshakes", defaults.MaxPendingHandshakes, 1, 1_000_000);
        var keepalive = reader.ReadSeconds("KeepaliveSeconds", defaults.Keepalive);
        var dead = reader.ReadSeconds("DeadPeerTimeoutSeconds", defaults.DeadPeerTimeout);
        var handshake = reader.ReadSeconds("HandshakeTimeoutSeconds", defaults.HandshakeTimeout);
        var reconnectMin = reader.ReadSeconds("ReconnectMinSeconds", defaults.ReconnectMin);
        var reconnectMax = reader.ReadSeconds("ReconnectMaxSeconds", defaults.ReconnectMax);

        if (keepalive is { } k && dead is { } d && d <= k)
        {
            reader.Report("DeadPeerTimeoutSeconds", $"{NetmodConfigReader.FormatSeconds(d)} must be greater than KeepaliveSeconds ({NetmodConfigReader.FormatSeconds(k)}), or every quiet link would be declared dead.");
        }

        if (reconnectMin is { } rmin && reconnectMax is { } rmax && rmax < rmin)
        {
            reader.Report("ReconnectMaxSeconds", $"{NetmodConfigReader.FormatSeconds(rmax)} must be at least ReconnectMinSeconds ({NetmodConfigReader.FormatSeconds(rmin)}).");
        }

        foreach (var problem in reader.Problems)
        {
            errors.Add(problem);
        }

        return reader.HasProblems ? null : new InetOptions
        {
            Listen = listen!,
            Peers = peers!,
            MaxFrameSize = maxFrameSize!.Value,
            SendQueueFrames = sendQueue!.Value,
            MaxInboundConnections = maxInbound!.Value,
            MaxInboundConnectionsPerAddress = maxInboundPerAddress!.Value,
            MaxPendingHandshakes = maxPending!.Value,
            Keepalive = keepalive!.Value,
            DeadPeerTimeout = dead!.Value,
            HandshakeTimeout = handshake!.Value,
            ReconnectMin = reconnectMin!.Value,
            ReconnectMax = reconnectMax!.Value,
        };
    }
}
