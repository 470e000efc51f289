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
    TimeProvider Time);
