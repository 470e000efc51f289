using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Router.Netmods.Udp;

/// <summary>
/// The plugin's entry point: validates the <c>Netmods:udp</c> section and creates
/// <see cref="UdpEndpoint"/>s. The router finds it by reflection.
/// </summary>
public sealed class UdpFactory : INetmodFactory
{
    /// <summary>The netmod's name and configuration section key.</summary>
    public const string NetmodName = "udp";

    /// <inheritdoc />
    public string Name => NetmodName;

    /// <inheritdoc />
    public IEnumerable<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var errors = new List<string>();
        UdpOptions.Parse(configuration, errors);
        return errors;
    }

    /// <inheritdoc />
    public Netmod Create(NetmodContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var errors = new List<string>();
        var options = UdpOptions.Parse(context.Configuration, errors)
            ?? throw new ArgumentException($"The udp configuration is invalid: {string.Join(" ", errors)}", nameof(context));
        return new UdpEndpoint(context, options);
    }
}
