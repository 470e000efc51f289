using System.Text.Json;

namespace Router.IntegrationTests;

/// <summary>
/// Hot plugins with a real router: <c>router plugins</c> lists the loaded netmods with their
/// versions; a netmod dropped into the plugins folder while the router runs is loaded and
/// started, then unloaded; even the last link netmod can be unloaded and loaded again.
/// </summary>
public sealed class PluginCommandsTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly TestMesh _mesh = new();
    private readonly List<RouterProcess> _routers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var router in _routers)
        {
            await router.DisposeAsync();
        }

        _mesh.Dispose();
    }

    private static void CopyDirectory(string from, string to)
    {
        Assert.True(Directory.Exists(from), $"{from} was not built");
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private static async Task<JsonElement[]> PluginsAsync(RouterProcess router)
    {
        var result = await Cli.RunAsync("plugins", "--json", "--api", router.ApiSocket);
        Assert.True(result.ExitCode == 0, $"router plugins failed: {result.Stderr}");
        return [.. JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray()];
    }

    private static async Task<string[]> NamesAsync(RouterProcess router) =>
        [.. (await PluginsAsync(router)).Select(p => $"{p.GetProperty("name").GetString()}:{p.GetProperty("state").GetString()}")];

    private static bool Mapped(RouterProcess router, string file) =>
        File.ReadAllText($"/proc/{router.Pid}/maps").Contains(file, StringComparison.Ordinal);

    [Fact]
    public async Task Plugins_ListLoadUnload_WhileTheRouterRuns()
    {
        var plugins = Path.Combine(_mesh.Root, "plugins");
        CopyDirectory(Path.Combine(RouterBinary.Plugins, "inet"), Path.Combine(plugins, "inet"));
        CopyDirectory(Path.Combine(RouterBinary.Plugins, "udp"), Path.Combine(plugins, "udp"));
        var portB = TestMesh.FreePort();
        var b = new RouterProcess(_mesh.Config("b", portB));
        _routers.Add(b);
        await b.StartAsync();
        var udp = $$""", "udp": { "Listen": ["127.0.0.1:{{TestMesh.FreePort()}}"], "Discovery": false }""";
        var a = new RouterProcess(_mesh.Config("a", TestMesh.FreePort(), peerPorts: [portB], extraNetmods: udp, pluginsDirectory: plugins));
        _routers.Add(a);
        await a.StartAsync();
        var addressB = await b.AddressAsync();
        await a.WaitForPeerUpAsync(addressB, Limit);

        // The list: name, version, SDK version, state, path.
        var listed = await PluginsAsync(a);
        Assert.Equal(["inet:running", "udp:running"], await NamesAsync(a));
        var inet = listed.Single(p => p.GetProperty("name").GetString() == "inet");
        Assert.Matches(@"^\d+\.\d+\.\d+$", inet.GetProperty("version").GetString());
        Assert.Matches(@"^1\.\d+$", inet.GetProperty("sdkVersion").GetString());
        Assert.Equal(Path.Combine(plugins, "inet", "inet.dll"), inet.GetProperty("path").GetString());
        var table = await Cli.RunAsync("plugins", "--api", a.ApiSocket);
        Assert.Contains("NETMOD", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("udp", table.Stdout, StringComparison.Ordinal);

        // A netmod that was not there at start-up is dropped into the folder and loaded.
        var missing = await Cli.RunAsync("plugins", "load", "good", "--api", a.ApiSocket);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("cannot load netmod 'good': there is no folder", missing.Stderr, StringComparison.Ordinal);
        CopyDirectory(Path.Combine(AppContext.BaseDirectory, "fixtures", "good"), Path.Combine(plugins, "good"));
        var load = await Cli.RunAsync("plugins", "load", "good", "--api", a.ApiSocket);
        Assert.True(load.ExitCode == 0, $"router plugins load failed: {load.Stderr}");
        Assert.Matches(@"netmod 'good' \d+\.\d+\.\d+ loaded from .*good\.dll and started", load.Stdout);
        Assert.Equal(["inet:running", "udp:running", "good:running"], await NamesAsync(a));
        var goodDll = Path.Combine(plugins, "good", "good.dll");
        Assert.True(Mapped(a, goodDll), "good.dll is not mapped into the router after loading it");

        var twice = await Cli.RunAsync("plugins", "load", "good", "--api", a.ApiSocket);
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("netmod 'good' is already loaded", twice.Stderr, StringComparison.Ordinal);

        var unload = await Cli.RunAsync("plugins", "unload", "good", "--api", a.ApiSocket);
        Assert.True(unload.ExitCode == 0, $"router plugins unload failed: {unload.Stderr}");
        Assert.Contains("netmod 'good' stopped and unloaded; its load context was collected", unload.Stdout, StringComparison.Ordinal);
        Assert.Equal(["inet:running", "udp:running"], await NamesAsync(a));
        Assert.False(Mapped(a, goodDll), "good.dll is still mapped into the router after unloading it");

        var gone = await Cli.RunAsync("plugins", "unload", "good", "--api", a.ApiSocket);
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("no netmod named 'good' is loaded (loaded: inet, udp)", gone.Stderr, StringComparison.Ordinal);

        // Even the last link netmods may go; their links go down. Loaded again, the link returns.
        Assert.Equal(0, (await Cli.RunAsync("plugins", "unload", "udp", "--api", a.ApiSocket)).ExitCode);
        var unloadInet = await Cli.RunAsync("plugins", "unload", "inet", "--api", a.ApiSocket);
        Assert.True(unloadInet.ExitCode == 0, unloadInet.Stderr);
        Assert.Empty(await PluginsAsync(a));
        Assert.Equal("no netmods loaded", (await Cli.RunAsync("plugins", "--api", a.ApiSocket)).Stdout.Trim());
        await b.WaitForNoPeerUpAsync(Limit);
        var reload = await Cli.RunAsync("plugins", "load", "inet", "--api", a.ApiSocket);
        Assert.True(reload.ExitCode == 0, reload.Stderr);
        await a.WaitForPeerUpAsync(addressB, Limit);
    }
}
