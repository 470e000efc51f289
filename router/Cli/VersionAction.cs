using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;
using Router.Api;
using Router.Sdk;
using Router.Security;

namespace Router.Cli;

/// <summary>
/// <c>router --version</c>: the router's version with its build, the netmod SDK version plugins
/// must match (same major), where AES-256-GCM comes from and the .NET runtime, on one line; exit code 0.
/// </summary>
internal sealed class VersionAction : SynchronousCommandLineAction
{
    /// <summary>E.g. <c>router 0.1.0 (build 0.1.0+8fd7333), netmod SDK 1.9, AES-256-GCM from libsodium, .NET 10.0.2</c>.</summary>
    public static string Text
    {
        get
        {
            var build = typeof(VersionAction).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? RouterStatus.Version;
            return $"router {RouterStatus.Version} (build {build}), netmod SDK {SdkVersion.Current.ToString(2)}, AES-256-GCM from {AeadKey.Implementation}, {RuntimeInformation.FrameworkDescription}";
        }
    }

    /// <summary>Replaces the root command's built-in version action (which prints only the informational version).</summary>
    public static void Install(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new VersionAction();
        }
    }

    public override int Invoke(ParseResult parseResult)
    {
        parseResult.InvocationConfiguration.Output.WriteLine(Text);
        return 0;
    }
}
