using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Router.Sdk;

/// <summary>What the router gives a netmod when it creates one.</summary>
/// <param name="Name">The netmod's name (its configuration section is <c>Netmods:&lt;Name&gt;</c>).</param>
/// <param name="LocalAddress">This router's address, for netmods whose handshake exchanges addresses.</param>
/// <param name="Configuration">The netmod's own configuration section, already validated by
/// <see cref="INetmodFactory.Validate"/>. Relative paths in it are relative to <paramref name="ConfigDirectory"/>.</param>
/// <param name="ConfigDirectory">The folder of the configuration file.</param>
/// <param name="LoggerFactory">Where the netmod's logs go.</param>
/// <param name="Time">The clock and timers to use, so tests can control time.</param>
public sealed record NetmodContext(
    string Name,
    RouterAddress LocalAddress,
    IConfiguration Configuration,
    string ConfigDirectory,
    ILoggerFactory LoggerFactory,
    TimeProvider Time)
{
    /// <summary>
    /// Bytes the router can use in front of a received frame (SDK 1.7). A netmod that reads
    /// each frame this far into its buffer (<see cref="InboundFrame.Offset"/> at least this)
    /// lets the router put its own headers in front of the frame where it would otherwise copy
    /// it: the router wraps each IP packet of an <see cref="IIpInterfaceFeature"/> netmod in a
    /// mesh frame, and a packet read behind this headroom, with 16 bytes free behind it too (for
    /// the seal's tag), goes out in the buffer it was read into. Optional, and of no use to link
    /// netmods, whose frames the router forwards as they are. 0 when the router has no use for
    /// headroom.
    /// </summary>
    public int ReceiveHeadroom { get; init; }
}
