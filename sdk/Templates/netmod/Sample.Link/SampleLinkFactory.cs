using Microsoft.Extensions.Configuration;
using Router.Sdk;

namespace Sample.Link;

/// <summary>
/// The plugin's entry point. The router finds this class by reflection (a public class
/// implementing <see cref="INetmodFactory"/> with a parameterless constructor), validates the
/// <c>Netmods:sample-link</c> section with it — also for <c>router --check</c> — and creates
/// the netmod when the section is enabled.
/// </summary>
public sealed class SampleLinkFactory : INetmodFactory
{
    /// <summary>The netmod's name: the key of its configuration section.</summary>
    public const string NetmodName = "sample-link";

    /// <inheritdoc />
    public string Name => NetmodName;

    /// <inheritdoc />
    public IEnumerable<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = new List<string>();
        SampleLinkOptions.Read(configuration, problems);
        return problems;
    }

    /// <inheritdoc />
    public Netmod Create(NetmodContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problems = new List<string>();
        var options = SampleLinkOptions.Read(context.Configuration, problems)
            ?? throw new ArgumentException($"The {NetmodName} configuration is invalid: {string.Join(" ", problems)}", nameof(context));
        return new SampleLinkNetmod(context, options);
    }
}
