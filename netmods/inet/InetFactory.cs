using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// The plugin's entry point: validates the <c>Netmods:inet</c> section and creates
/// <see cref="InetEndpoint"/>s. The router finds it by reflection.
/// </summary>
public sealed class InetFactory : INetmodFactory
{
    /// <summary>The netmod's name and configuration section key.</summary>
    public const string NetmodName = "inet";

    /// <inheritdoc />
    public string Name => NetmodName;

    /// <inheritdoc />
    public IEnumerable<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        InetOptions.Parse(configuration, errors);
        return errors;
    }

    /// <inheritdoc />
    public Netmod Create(NetmodContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var errors = new List<string>();
        var options = InetOptions.Parse(context.Configuration, errors)
            ?? throw new ArgumentException($"The inet configuration is invalid: {string.Join(" ", errors)}", nameof(context));
        return new InetEndpoint(context, options);
    }
}
