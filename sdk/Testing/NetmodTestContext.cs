using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Router.Sdk.Testing;

/// <summary>
/// Builds what the router would hand a netmod — its configuration section and a
/// <see cref="NetmodContext"/> — from a few settings, so a netmod's tests can call its factory
/// directly, without a router or a configuration file.
/// </summary>
/// <remarks>Every member is thread-safe and returns a new object.</remarks>
public static class NetmodTestContext
{
    /// <summary>
    /// The section <c>Netmods:&lt;netmodName&gt;</c> holding <paramref name="settings"/>, with the
    /// same path the router's section has, so problems name keys as they would in production.
    /// </summary>
    /// <param name="netmodName">The netmod's name (its section key).</param>
    /// <param name="settings">Keys relative to the section, with <c>:</c> for nesting and
    /// list indexes, e.g. <c>Listen:0</c> → <c>127.0.0.1:0</c>.</param>
    public static IConfigurationSection Section(string netmodName, IEnumerable<KeyValuePair<string, string?>> settings)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(netmodName);
        ArgumentNullException.ThrowIfNull(settings);
        var prefix = $"Netmods:{netmodName}";
        return new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(kv => KeyValuePair.Create($"{prefix}:{kv.Key}", kv.Value)))
            .Build()
            .GetSection(prefix);
    }

    /// <summary>
    /// A context for <see cref="INetmodFactory.Create"/>: the section built from
    /// <paramref name="settings"/>, the temporary folder as configuration directory, and the
    /// given address, logs and clock.
    /// </summary>
    /// <param name="netmodName">The netmod's name (its section key).</param>
    /// <param name="settings">The section's settings, as for <see cref="Section"/>.</param>
    /// <param name="address">This router's address; see <see cref="RandomAddress"/>.</param>
    /// <param name="logs">Where the netmod logs, e.g. a <see cref="CapturingLoggerProvider"/>.</param>
    /// <param name="time">The clock; <see cref="TimeProvider.System"/> when null.</param>
    public static NetmodContext Create(
        string netmodName,
        IEnumerable<KeyValuePair<string, string?>> settings,
        RouterAddress address,
        ILoggerFactory logs,
        TimeProvider? time = null) =>
        new(netmodName, address, Section(netmodName, settings), Path.GetTempPath(), logs, time ?? TimeProvider.System);

    /// <summary>A random router address, different on each call (with overwhelming likelihood).</summary>
    public static RouterAddress RandomAddress()
    {
        Span<byte> bytes = stackalloc byte[RouterAddress.Length];
        RandomNumberGenerator.Fill(bytes);
        return RouterAddress.Read(bytes);
    }
}
