using Microsoft.Extensions.Logging.Abstractions;
using Router.Configuration;
using Router.Hosting;
using Router.Plugins;
using Router.Sdk;

namespace Router.Tests.Plugins;

/// <summary>
/// The loader against real plugin builds: the fixture netmods under tests/Fixtures are built
/// with the tests and copied into a fresh plugins folder per test.
/// </summary>
public class PluginLoaderTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");

    private static TempDirectory PluginsWith(params string[] fixtures)
    {
        var dir = new TempDirectory();
        foreach (var fixture in fixtures)
        {
            CopyDirectory(Path.Combine(Fixtures, fixture), Path.Combine(dir.Path, fixture));
        }

        return dir;
    }

    private static void CopyDirectory(string from, string to)
    {
        Assert.True(Directory.Exists(from), $"fixture {from} was not built");
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static PluginScan Scan(TempDirectory dir) =>
        new PluginLoader(NullLogger<PluginLoader>.Instance).Scan(dir.Path);

    [Fact]
    public void Scan_GoodPlugin_LoadsWithTypesUnifiedWithTheHost()
    {
        using var dir = PluginsWith("good");
        var scan = Scan(dir);

        Assert.Empty(scan.Failures);
        var plugin = Assert.Single(scan.Plugins);
        Assert.Equal("good", plugin.Name);
        Assert.IsAssignableFrom<INetmodFactory>(plugin.Factory);
        Assert.NotSame(System.Runtime.Loader.AssemblyLoadContext.Default, plugin.LoadContext);
        Assert.Same(typeof(INetmodFactory).Assembly, plugin.Factory.GetType().GetInterfaces().Single(i => i.Name == nameof(INetmodFactory)).Assembly);
        Assert.False(File.Exists(Path.Combine(dir.Path, "good", "Router.Sdk.dll")), "the SDK must not be copied beside a plugin");
    }

    [Fact]
    public void Scan_AssemblyWithoutNetmod_IsReportedAndSkipped()
    {
        using var dir = PluginsWith("nonetmod", "good");
        var scan = Scan(dir);

        Assert.Equal("good", Assert.Single(scan.Plugins).Name);
        var failure = Assert.Single(scan.Failures);
        Assert.EndsWith("nonetmod.dll", failure.Path, StringComparison.Ordinal);
        Assert.Contains("no public class implements INetmodFactory", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_TwoPluginsClaimingOneName_KeepsTheFirstAndReportsTheSecond()
    {
        using var dir = PluginsWith("good", "duplicate");
        var scan = Scan(dir);

        var plugin = Assert.Single(scan.Plugins);
        Assert.EndsWith("duplicate.dll", plugin.AssemblyPath, StringComparison.Ordinal); // "duplicate" sorts before "good"
        var failure = Assert.Single(scan.Failures);
        Assert.EndsWith("good.dll", failure.Path, StringComparison.Ordinal);
        Assert.Contains("netmod name 'good' is already provided by", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_MissingDependency_IsReportedByName()
    {
        using var dir = PluginsWith("missingdep", "good");
        File.Delete(Path.Combine(dir.Path, "missingdep", "missingdep.dependency.dll"));
        var scan = Scan(dir);

        Assert.Equal("good", Assert.Single(scan.Plugins).Name);
        var failure = Assert.Single(scan.Failures);
        Assert.Contains("missing dependency missingdep.dependency", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_DependencyPresent_LoadsThePlugin()
    {
        using var dir = PluginsWith("missingdep");
        var scan = Scan(dir);

        Assert.Empty(scan.Failures);
        Assert.Equal("missingdep", Assert.Single(scan.Plugins).Name);
    }

    [Fact]
    public void Scan_PluginBuiltAgainstAnotherMajorSdk_IsRefusedNamingBothVersions()
    {
        using var dir = PluginsWith("futuresdk");
        var scan = Scan(dir);

        Assert.Empty(scan.Plugins);
        var failure = Assert.Single(scan.Failures);
        Assert.Contains("built against Router.Sdk 2.0", failure.Reason, StringComparison.Ordinal);
        Assert.Contains($"this router provides Router.Sdk {SdkVersion.Current.ToString(2)}", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Scan_FolderWithoutItsDll_AndMissingDirectory_AreHandled()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "empty"));
        var scan = Scan(dir);
        Assert.Empty(scan.Plugins);
        Assert.Contains("no empty.dll in it", Assert.Single(scan.Failures).Reason, StringComparison.Ordinal);

        var none = new PluginLoader(NullLogger<PluginLoader>.Instance).Scan(Path.Combine(dir.Path, "absent"));
        Assert.Empty(none.Plugins);
        Assert.Empty(none.Failures);
    }

    [Fact]
    public void ResolveEnabledNetmods_EnabledButAbsent_NamesItAndListsWhatWasFound()
    {
        using var plugins = PluginsWith("good", "throwing");
        using var configDir = new TempDirectory();
        var path = configDir.File("config.json");
        File.WriteAllText(path, """{ "Netmods": { "good": {}, "lora": { "Enabled": true }, "throwing": { "Enabled": false } } }""");
        var configuration = RouterConfiguration.Load(path, [], new Dictionary<string, string?>());
        var problems = new List<string>();

        var enabled = RouterApp.ResolveEnabledNetmods(configuration, Scan(plugins), problems);

        Assert.Equal("good", Assert.Single(enabled).Name);
        var problem = Assert.Single(problems);
        Assert.Contains("Netmods:lora is enabled, but no netmod named 'lora' was found", problem, StringComparison.Ordinal);
        Assert.Contains("(found: good, throwing)", problem, StringComparison.Ordinal);
    }
}
