using Microsoft.Extensions.Configuration;

namespace Router.Sdk;

/// <summary>
/// The entry point of a netmod plugin. The router finds every public, non-abstract class
/// implementing this interface with a public parameterless constructor in a plugin assembly,
/// creates one instance, and uses it to validate configuration and create the netmod.
/// </summary>
public interface INetmodFactory
{
    /// <summary>
    /// The netmod's name: lowercase, unique among loaded netmods, and the key of its
    /// configuration section (<c>Netmods:&lt;Name&gt;</c>).
    /// </summary>
    string Name { get; }

    /// <summary>
    /// Checks the netmod's configuration section and returns every problem found, each a
    /// complete sentence naming the key (e.g. <c>Listen[0]: 'x' is not host:port</c>). Returns
    /// nothing when the section is valid. Must not throw for bad input, open sockets or
    /// change any state: it also runs for <c>router --check</c>.
    /// </summary>
    /// <param name="configuration">The netmod's section (<c>Netmods:&lt;Name&gt;</c>).</param>
    IEnumerable<string> Validate(IConfiguration configuration);

    /// <summary>
    /// Creates the netmod. Called once per start of the netmod, after <see cref="Validate"/>
    /// found no problems; the result is not yet started.
    /// </summary>
    Netmod Create(NetmodContext context);
}
