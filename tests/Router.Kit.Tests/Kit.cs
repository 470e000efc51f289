using System.Text;
using System.Text.Json;

namespace Router.Kit.Tests;

/// <summary>Where the kit's pieces are: the repository, the built router, the tools.</summary>
internal static class Kit
{
    /// <summary>The repository root, recorded when the tests were built.</summary>
    public static string RepoRoot { get; } = Path.GetFullPath(Metadata("RepoRoot"));

    /// <summary>The projects <c>dotnet pack</c> turns into the kit's packages: SDK, testing, template.</summary>
    public static string PackTarget => Path.Combine(RepoRoot, "sdk", "Kit.slnf");

    /// <summary>The template folder (what <c>dotnet new install</c> takes, packed or not).</summary>
    public static string TemplateFolder => Path.Combine(RepoRoot, "sdk", "Templates", "netmod");

    /// <summary>Debug or Release: the configuration these tests were built in.</summary>
    public static string Configuration { get; } = Metadata("Configuration");

    /// <summary>
    /// The built router: <c>router/bin/CONFIG/net10.0</c> in the repository, or the folder named by
    /// <c>ROUTER_TEST_BINARY_DIR</c> (for builds elsewhere, e.g. with <c>--artifacts-path</c>).
    /// </summary>
    public static string RouterExecutable { get; } = Path.Combine(
        Environment.GetEnvironmentVariable("ROUTER_TEST_BINARY_DIR") is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.Combine(RepoRoot, "router", "bin", Configuration, "net10.0"),
        "router");

    /// <summary>The package sources this machine restores from (<c>dotnet nuget list source</c>), enabled ones only.</summary>
    public static async Task<IReadOnlyList<string>> RegistrySourcesAsync(string workingDirectory)
    {
        var result = await Processes.RunAsync("dotnet", ["nuget", "list", "source", "--format", "short"], workingDirectory, TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.Output);
        var sources = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith("E ", StringComparison.Ordinal))
            .Select(l => l[2..].Trim())
            .ToList();
        Assert.True(sources.Count > 0, $"no enabled package source:\n{result.Output}");
        return sources;
    }

    /// <summary>This machine's global packages folder, where the repository's own restores left their packages.</summary>
    public static string MachinePackages =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } packages
            ? packages
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>
    /// A nuget.config for projects generated from the template: Router.Sdk* only from the kit's
    /// own feed (so no other copy, cached or remote, can stand in for the one just packed),
    /// everything else from the packages already on this machine, then the registry.
    /// </summary>
    public static string NuGetConfig(string feed, string machinePackages, IReadOnlyList<string> registries)
    {
        var xml = new StringBuilder();
        xml.AppendLine("""<?xml version="1.0" encoding="utf-8"?>""");
        xml.AppendLine("<configuration>");
        xml.AppendLine("  <packageSources>");
        xml.AppendLine("    <clear />");
        xml.AppendLine($"""    <add key="kit" value="{feed}" />""");
        xml.AppendLine($"""    <add key="machine" value="{machinePackages}" />""");
        for (var i = 0; i < registries.Count; i++)
        {
            xml.AppendLine($"""    <add key="registry{i}" value="{registries[i]}" />""");
        }

        xml.AppendLine("  </packageSources>");
        xml.AppendLine("  <packageSourceMapping>");
        xml.AppendLine("""    <packageSource key="kit"><package pattern="Router.Sdk" /><package pattern="Router.Sdk.*" /></packageSource>""");
        foreach (var key in new[] { "machine" }.Concat(registries.Select((_, i) => $"registry{i}")))
        {
            xml.AppendLine($"""    <packageSource key="{key}"><package pattern="*" /></packageSource>""");
        }

        xml.AppendLine("  </packageSourceMapping>");
        xml.AppendLine("</configuration>");
        return xml.ToString();
    }

    /// <summary>A router configuration with only the given netmod section, plugins from <paramref name="plugins"/>.</summary>
    public static string RouterConfig(string plugins, string netmod, int port, int? peerPort) =>
        $$"""
        {
          "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock", "PluginsDirectory": {{JsonSerializer.Serialize(plugins)}} },
          "Netmods": {
            "{{netmod}}": {
              "Listen": "127.0.0.1:{{port}}",
              "Peers": [{{(peerPort is { } p ? $"\"127.0.0.1:{p}\"" : "")}}],
              "HelloSeconds": 0.5,
              "DeadPeerSeconds": 3
            }
          }
        }
        """;

    private static string Metadata(string key) =>
        typeof(Kit).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .Single(a => a.Key == key).Value!;
}
