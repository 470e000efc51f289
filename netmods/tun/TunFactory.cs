using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Tun;

/// <summary>
/// The plugin's entry point: validates the <c>Netmods:tun</c> section and creates
/// <see cref="TunInterface"/>s. The router finds it by reflection.
/// </summary>
public sealed class TunFactory : INetmodFactory
{
    /// <summary>The netmod's name and configuration section key.</summary>
    public const string NetmodName = "tun";

    /// <inheritdoc />
    public string Name => NetmodName;

    /// <inheritdoc />
    public IEnumerable<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        TunOptions.Parse(configuration, errors);
        return errors;
    }

    /// <inheritdoc />
    public Netmod Create(NetmodContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var errors = new List<string>();
        var options = TunOptions.Parse(context.Configuration, errors)
            ?? throw new ArgumentException($"The tun configuration is invalid: {string.Join(" ", errors)}", nameof(context));
        return new TunInterface(context, options);
    }
}
