using System.Runtime.CompilerServices;
using Router.Configuration;
using Router.Hosting;
using Router.Identity;
using Router.Plugins;

namespace Router.Tests.Hosting;

/// <summary>
/// Hot plugins and reload inside one router core (<see cref="RouterNode"/>), with the fixture
/// netmods built with the tests copied into a plugins folder of the test's own.
/// </summary>
public sealed class HotPluginTests : IAsyncLifetime
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
    private static readonly TimeSpan CollectTimeout = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();
    private readonly CapturedLogs _logs = new();
    private readonly RouterIdentity _identity = RouterIdentity.Create();
    private RouterNode? _node;

    private string PluginsDirectory => Path.Combine(_dir.Path, "plugins");

    private PluginControl Plugins => _node!.Get<PluginControl>();

    private ConfigReloader Reloader => _node!.Get<ConfigReloader>();

    public async Task InitializeAsync()
    {
        foreach (var fixture in new[] { "good", "throwing" })
        {
            var from = Path.Combine(Fixtures, fixture);
            Assert.True(Directory.Exists(from), $"fixture {from} was not built");
            foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(PluginsDirectory, fixture, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        }

        var options = new RouterOptions { KeyFile = "unused", ApiSocket = "unused", PluginsDirectory = PluginsDirectory };
        _node = new RouterNode(_identity, options, [], Config(("Netmods:good:Enabled", "false")), _logs.Factory, TimeProvider.System);
        await _node.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _identity.Dispose();
        _dir.Dispose();
    }

    private RouterConfiguration Config(params (string Key, string Value)[] values) =>
        RouterConfiguration.InMemory(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)), _dir.Path);

    /// <summary>Loads a plugin and returns only its outcome and state, so no caller's local holds the instance.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<(PluginOutcome Outcome, string Message, string? State)> LoadAsync(string name)
    {
        var result = await Plugins.LoadAsync(name, CancellationToken.None);
        return (result.Outcome, result.Message, result.Instance?.State.ToString());
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private WeakReference LoadContextOf(string name) =>
        new(Plugins.Loaded.Single(i => i.Name == name).Plugin.LoadContext ?? throw new InvalidOperationException("no load context"));

    private static async Task<bool> CollectedAsync(WeakReference reference)
    {
        var deadline = DateTime.UtcNow + CollectTimeout;
        while (reference.IsAlive && DateTime.UtcNow < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            await Task.Delay(50);
        }

        return !reference.IsAlive;
    }

    [Fact]
    public async Task LoadAsync_PluginDroppedIntoTheFolder_StartsItEvenThoughItsSectionDisablesIt()
    {
        var (outcome, message, state) = await LoadAsync("good");

        Assert.Equal(PluginOutcome.Done, outcome);
        Assert.Equal(nameof(NetmodState.Running), state);
        Assert.Matches(@"^netmod 'good' \d+\.\d+\.\d+ loaded from .*good\.dll and started$", message);
        var loaded = Assert.Single(Plugins.Loaded);
        Assert.Equal("good", loaded.Name);
        Assert.Same(loaded, _node!.Get<NetmodHost>().Find("good"));
    }

    [Fact]
    public async Task LoadAsync_NameAlreadyLoaded_IsRefused()
    {
        Assert.Equal(PluginOutcome.Done, (await LoadAsync("good")).Outcome);

        var (outcome, message, _) = await LoadAsync("good");

        Assert.Equal(PluginOutcome.AlreadyLoaded, outcome);
        Assert.Contains("netmod 'good' is already loaded (running", message, StringComparison.Ordinal);
        Assert.Single(Plugins.Loaded);
    }

    [Theory]
    [InlineData("nosuch", nameof(PluginOutcome.NotFound), "there is no folder")]
    [InlineData("../plugins/good", nameof(PluginOutcome.BadName), "is not a netmod name")]
    [InlineData("Good", nameof(PluginOutcome.BadName), "is not a netmod name")]
    public async Task LoadAsync_NoSuchPluginOrBadName_IsRefused(string name, string expected, string reason)
    {
        var (outcome, message, _) = await LoadAsync(name);

        Assert.Equal(expected, outcome.ToString());
        Assert.Contains(reason, message, StringComparison.Ordinal);
        Assert.Empty(Plugins.Loaded);
    }

    [Fact]
    public async Task LoadAsync_NetmodThatFailsToStart_IsRefusedAndNotLeftLoaded()
    {
        var (outcome, message, _) = await LoadAsync("throwing");

        Assert.Equal(PluginOutcome.Unusable, outcome);
        Assert.Contains("it failed to start: fixture failure", message, StringComparison.Ordinal);
        Assert.Empty(Plugins.Loaded);
    }

    [Fact]
    public async Task UnloadAsync_LoadedPlugin_StopsItAndItsLoadContextIsCollected()
    {
        Assert.Equal(PluginOutcome.Done, (await LoadAsync("good")).Outcome);
        var context = LoadContextOf("good");

        var result = await Plugins.UnloadAsync("good", CancellationToken.None);

        Assert.Equal(PluginOutcome.Done, result.Outcome);
        Assert.True(result.Collected, result.Message);
        Assert.Empty(Plugins.Loaded);
        Assert.True(await CollectedAsync(context), "the plugin's load context is still referenced after unloading");

        // And it can be loaded again: a fresh context from the folder.
        Assert.Equal(PluginOutcome.Done, (await LoadAsync("good")).Outcome);
    }

    [Fact]
    public async Task UnloadAsync_NotLoaded_IsRefusedNamingWhatIs()
    {
        var result = await Plugins.UnloadAsync("good", CancellationToken.None);

        Assert.Equal(PluginOutcome.NotFound, result.Outcome);
        Assert.Equal("no netmod named 'good' is loaded (loaded: none)", result.Message);
    }

    [Fact]
    public async Task ReloadAsync_NetmodEnabledThenDisabled_StartsItThenStopsAndUnloadsIt()
    {
        var enabled = await Reloader.ReloadAsync(Config(("Netmods:good:Enabled", "true")), CancellationToken.None);

        Assert.True(enabled.Applied);
        Assert.Equal(["netmod 'good' started (enabled in the configuration)"], enabled.Changes);
        Assert.Equal(NetmodState.Running, Assert.Single(Plugins.Loaded).State);
        var context = LoadContextOf("good");

        var disabled = await Reloader.ReloadAsync(Config(("Netmods:good:Enabled", "false")), CancellationToken.None);

        Assert.True(disabled.Applied);
        Assert.Equal(["netmod 'good' stopped and unloaded (disabled in the configuration)"], disabled.Changes);
        Assert.Empty(Plugins.Loaded);
        Assert.True(await CollectedAsync(context), "the plugin's load context is still referenced after a reload disabled it");
    }

    [Fact]
    public async Task ReloadAsync_InvalidConfiguration_IsRejectedWithEveryProblemAndChangesNothing()
    {
        Assert.Equal(PluginOutcome.Done, (await LoadAsync("good")).Outcome);
        var before = Reloader.Current;

        var result = await Reloader.ReloadAsync(
            Config(("Router:HopLimit", "0"), ("Netmods:nosuch:Enabled", "true"), ("Netmods:good:Enabled", "maybe"), ("Bogus:Key", "1")),
            CancellationToken.None);

        Assert.False(result.Applied);
        Assert.Equal(4, result.Problems.Count);
        Assert.Contains(result.Problems, p => p.StartsWith("Router:HopLimit: '0'", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.StartsWith("Netmods:nosuch is enabled, but its plugin cannot be loaded: there is no folder", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.StartsWith("Netmods:good:Enabled: 'maybe'", StringComparison.Ordinal));
        Assert.Contains(result.Problems, p => p.StartsWith("Bogus: unknown section", StringComparison.Ordinal));
        Assert.Empty(result.Changes);
        Assert.Same(before, Reloader.Current);
        Assert.Equal(NetmodState.Running, Assert.Single(Plugins.Loaded).State);
    }

    [Fact]
    public async Task ReloadAsync_StartUpOnlyKeyChanged_WarnsThatItNeedsARestart()
    {
        var result = await Reloader.ReloadAsync(Config(("Netmods:good:Enabled", "false"), ("Router:HopLimit", "12")), CancellationToken.None);

        Assert.True(result.Applied);
        Assert.Equal(["Router:HopLimit changed; it is read only at start-up, so restart the router to apply it"], result.Warnings);
        Assert.Equal(["nothing to change"], result.Changes);
    }
}
