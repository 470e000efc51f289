namespace Router.IntegrationTests;

/// <summary>Start-up: configuration checks, missing and broken plugins, the key file.</summary>
public sealed class StartupTests : IDisposable
{
    private readonly TestMesh _mesh = new();

    public void Dispose() => _mesh.Dispose();

    [Fact]
    public async Task Check_ValidConfig_Exits0()
    {
        await using var router = new RouterProcess(_mesh.Config("a", TestMesh.FreePort()));
        Assert.Equal(0, await router.RunToExitAsync("--check"));
        Assert.Contains("configuration is valid; netmods enabled: inet", router.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_mesh.Root, "a", "router.key")), "--check must not create the key");
    }

    [Fact]
    public async Task Check_And_Run_InvalidConfig_ListEveryProblemAndExit1()
    {
        var dir = Path.Combine(_mesh.Root, "bad");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "config.json");
        await File.WriteAllTextAsync(path, """
            {
              "Router": { "HopLimit": 999, "Colour": "blue" },
              "Netmods": {
                "inet": { "Listen": ["nowhere"], "Peers": ["[::1]"], "MaxFrameSize": 12 },
                "lora": { "Enabled": true }
              }
            }
            """);

        foreach (var args in new[] { new[] { "--check" }, Array.Empty<string>() })
        {
            await using var router = new RouterProcess(path);
            Assert.Equal(1, await router.RunToExitAsync(args));
            var output = router.Output;
            Assert.Contains("Router:HopLimit: '999'", output, StringComparison.Ordinal);
            Assert.Contains("Router:Colour: unknown key", output, StringComparison.Ordinal);
            Assert.Contains("Netmods:inet:Listen[0]", output, StringComparison.Ordinal);
            Assert.Contains("Netmods:inet:Peers[0]", output, StringComparison.Ordinal);
            Assert.Contains("Netmods:inet:MaxFrameSize", output, StringComparison.Ordinal);
            Assert.Contains("Netmods:lora is enabled, but no netmod named 'lora' was found", output, StringComparison.Ordinal);
            Assert.Contains("(found: inet, tun, udp)", output, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "router.sock")));
        }
    }

    [Fact]
    public async Task Run_BrokenPlugins_AreReportedAndTheRouterRunsWithTheRest()
    {
        var plugins = Path.Combine(_mesh.Root, "plugins");
        CopyDirectory(Path.Combine(RouterBinary.Plugins, "inet"), Path.Combine(plugins, "inet"));
        foreach (var fixture in new[] { "throwing", "nonetmod", "futuresdk" })
        {
            CopyDirectory(Path.Combine(AppContext.BaseDirectory, "fixtures", fixture), Path.Combine(plugins, fixture));
        }

        Directory.CreateDirectory(Path.Combine(plugins, "junk"));
        await File.WriteAllTextAsync(Path.Combine(plugins, "junk", "junk.dll"), "this is not an assembly");

        var config = _mesh.Config("a", TestMesh.FreePort(), extraNetmods: """, "throwing": { "Enabled": true }""", pluginsDirectory: plugins);
        await using var router = new RouterProcess(config);
        await router.StartAsync();

        var output = router.Output;
        Assert.Contains("nonetmod.dll: contains no netmod", output, StringComparison.Ordinal);
        Assert.Matches(@"futuresdk\.dll: built against Router\.Sdk 2\.0, but this router provides Router\.Sdk 1\.\d+", output);
        Assert.Contains("junk.dll: not a loadable .NET assembly", output, StringComparison.Ordinal);
        Assert.Contains("Netmod 'throwing' failed to start: fixture failure", output, StringComparison.Ordinal);

        var status = await router.StatusAsync();
        var netmods = status.GetProperty("netmods").EnumerateArray().ToDictionary(n => n.GetProperty("name").GetString()!, n => n.GetProperty("state").GetString());
        Assert.Equal("running", netmods["inet"]);
        Assert.Equal("failed", netmods["throwing"]);
    }

    [Fact]
    public async Task Run_KeyFileReadableByOthers_RefusesToStart()
    {
        var config = _mesh.Config("a", TestMesh.FreePort());
        var key = Path.Combine(_mesh.Root, "a", "router.key");
        await using (var first = new RouterProcess(config))
        {
            await first.StartAsync();
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }

        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        await using var second = new RouterProcess(config);
        Assert.Equal(1, await second.RunToExitAsync());
        Assert.Contains("chmod 600", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SecondRouterOnTheSameApiSocket_IsRefused()
    {
        var config = _mesh.Config("a", TestMesh.FreePort());
        await using var first = new RouterProcess(config);
        await first.StartAsync();
        await using var second = new RouterProcess(config);
        Assert.Equal(1, await second.RunToExitAsync());
        Assert.Contains("another router is already running with API socket", second.Output, StringComparison.Ordinal);
        Assert.False(first.HasExited);
    }

    private static void CopyDirectory(string from, string to)
    {
        Assert.True(Directory.Exists(from), $"{from} was not built");
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
