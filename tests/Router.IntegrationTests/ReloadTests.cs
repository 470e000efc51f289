using System.Runtime.InteropServices;
using System.Text.Json;

namespace Router.IntegrationTests;

/// <summary>
/// Live reload with real routers on loopback: <c>router reload</c> and SIGHUP re-read the file;
/// peers are added and removed, netmods enabled and disabled, and a link the change does not
/// touch stays up throughout; an invalid file is rejected with every problem and changes nothing.
/// </summary>
public sealed partial class ReloadTests : IAsyncLifetime
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

    private async Task<RouterProcess> StartAsync(string configPath)
    {
        var router = new RouterProcess(configPath);
        _routers.Add(router);
        await router.StartAsync();
        return router;
    }

    private static Task<Cli.Result> ReloadAsync(RouterProcess router) => Cli.RunAsync("reload", "--config", router.ConfigPath);

    /// <summary>Reloads with SIGHUP and waits for the log to say the reload finished (applied or rejected).</summary>
    private static async Task SighupAsync(RouterProcess router)
    {
        var before = Count(router.Output, "Reloaded ") + Count(router.Output, "Reload rejected");
        Assert.Equal(0, Kill(router.Pid ?? throw new InvalidOperationException("the router is not running"), Sighup));
        await RouterProcess.WaitForAsync(() => Count(router.Output, "Reloaded ") + Count(router.Output, "Reload rejected") > before, Limit, "the reload after SIGHUP");
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    private static async Task<bool> HasPeerUpAsync(RouterProcess router, string address) =>
        (await router.StatusAsync()).GetProperty("peers").EnumerateArray()
            .Any(p => p.GetProperty("address").GetString() == address && p.GetProperty("state").GetString() == "up");

    private static async Task<string[]> NetmodsAsync(RouterProcess router) =>
        [.. (await router.StatusAsync()).GetProperty("netmods").EnumerateArray().Select(n => $"{n.GetProperty("name").GetString()}:{n.GetProperty("state").GetString()}")];

    /// <summary>A's link to C never went down: neither router logged it down.</summary>
    private static void AssertNeverDropped(RouterProcess a, string addressA, RouterProcess c, string addressC)
    {
        Assert.DoesNotContain($"Neighbour down: {addressC}", a.Output, StringComparison.Ordinal);
        Assert.DoesNotContain($"Neighbour down: {addressA}", c.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cli")]
    [InlineData("sighup")]
    public async Task Reload_PeerAddedThenRemoved_LinksAndUnlinksWhileTheOtherLinkStaysUp(string how)
    {
        var portA = TestMesh.FreePort();
        var portB = TestMesh.FreePort();
        var portC = TestMesh.FreePort();
        var b = await StartAsync(_mesh.Config("b", portB));
        var c = await StartAsync(_mesh.Config("c", portC));
        var a = await StartAsync(_mesh.Config("a", portA, peerPorts: [portC]));
        var (addressA, addressB, addressC) = (await a.AddressAsync(), await b.AddressAsync(), await c.AddressAsync());
        await a.WaitForPeerUpAsync(addressC, Limit);
        await c.WaitForPeerUpAsync(addressA, Limit);

        // A's file gains B.
        _mesh.Config("a", portA, peerPorts: [portC, portB]);
        if (how == "cli")
        {
            var added = await ReloadAsync(a);
            Assert.True(added.ExitCode == 0, $"router reload failed: {added.Stderr}");
            Assert.Contains($"netmod 'inet': peers added: 127.0.0.1:{portB}", added.Stdout, StringComparison.Ordinal);
        }
        else
        {
            await SighupAsync(a);
            Assert.Contains("SIGHUP received: reloading the configuration", a.Output, StringComparison.Ordinal);
            Assert.Contains($"Reload: netmod 'inet': peers added: 127.0.0.1:{portB}", a.Output, StringComparison.Ordinal);
        }

        await a.WaitForPeerUpAsync(addressB, Limit);
        await b.WaitForPeerUpAsync(addressA, Limit);

        // And loses it again: the link goes down on both sides, and stays down.
        _mesh.Config("a", portA, peerPorts: [portC]);
        if (how == "cli")
        {
            var removed = await ReloadAsync(a);
            Assert.True(removed.ExitCode == 0, $"router reload failed: {removed.Stderr}");
            Assert.Contains($"netmod 'inet': peers removed, their links closed: 127.0.0.1:{portB}", removed.Stdout, StringComparison.Ordinal);
        }
        else
        {
            await SighupAsync(a);
            Assert.Contains($"Reload: netmod 'inet': peers removed, their links closed: 127.0.0.1:{portB}", a.Output, StringComparison.Ordinal);
        }

        await RouterProcess.WaitForAsync(async () => !await HasPeerUpAsync(a, addressB), Limit, "A's link to B down");
        await RouterProcess.WaitForAsync(async () => !await HasPeerUpAsync(b, addressA), Limit, "B's link to A down");
        Assert.DoesNotContain((await a.StatusAsync()).GetProperty("peers").EnumerateArray(), p => p.GetProperty("endpoint").GetString() == $"127.0.0.1:{portB}");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(await HasPeerUpAsync(a, addressB), "A linked to B again after B was removed from its peers");

        Assert.True(await HasPeerUpAsync(a, addressC), "A's link to C is down");
        AssertNeverDropped(a, addressA, c, addressC);
    }

    [Fact]
    public async Task Reload_InvalidConfiguration_PrintsEveryProblemExitsOneAndChangesNothing()
    {
        var portA = TestMesh.FreePort();
        var portC = TestMesh.FreePort();
        var c = await StartAsync(_mesh.Config("c", portC));
        var a = await StartAsync(_mesh.Config("a", portA, peerPorts: [portC]));
        var (addressA, addressC) = (await a.AddressAsync(), await c.AddressAsync());
        await a.WaitForPeerUpAsync(addressC, Limit);

        var valid = await File.ReadAllTextAsync(a.ConfigPath);
        await File.WriteAllTextAsync(a.ConfigPath, $$"""
            {
              "Router": { "KeyFile": "router.key", "ApiSocket": "router.sock", "HopLimit": 0 },
              "Netmods": {
                "inet": { "Listen": ["not an endpoint"], "Peers": ["127.0.0.1:{{portC}}"] },
                "nosuch": { "Enabled": true }
              },
              "Bogus": {}
            }
            """);
        var result = await ReloadAsync(a);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("problems (the configuration in force is unchanged):", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("  - Router:HopLimit: '0' is not a whole number from 1 to 255.", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("  - Netmods:nosuch is enabled, but its plugin cannot be loaded", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Listen[0]", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("  - Bogus: unknown section", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("Reload rejected:", a.Output, StringComparison.Ordinal);

        // A file that is not even JSON is rejected the same way.
        await File.WriteAllTextAsync(a.ConfigPath, "{ not json");
        var unreadable = await ReloadAsync(a);
        Assert.Equal(1, unreadable.ExitCode);
        Assert.Contains("cannot be read", unreadable.Stderr, StringComparison.Ordinal);

        // Nothing changed: the link is up, and the old configuration is still the one in force.
        Assert.True(await HasPeerUpAsync(a, addressC));
        Assert.Equal(["inet:running"], await NetmodsAsync(a));
        await File.WriteAllTextAsync(a.ConfigPath, valid);
        var again = await ReloadAsync(a);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("nothing to change", again.Stdout, StringComparison.Ordinal);
        AssertNeverDropped(a, addressA, c, addressC);
    }

    [Fact]
    public async Task Reload_UdpEnabledThenDisabled_StartsItThenStopsIt()
    {
        var portA = TestMesh.FreePort();
        var udpA = TestMesh.FreePort();
        var portD = TestMesh.FreePort();
        string Udp(bool enabled) => $$""", "udp": { "Enabled": {{(enabled ? "true" : "false")}}, "Listen": ["127.0.0.1:{{udpA}}"], "Discovery": false, "KeepaliveSeconds": 0.5, "DeadPeerTimeoutSeconds": 2, "ReconnectMinSeconds": 0.2, "ReconnectMaxSeconds": 0.5 }""";

        // D links to A over udp only, so the udp link shows that A's udp netmod really runs.
        var d = await StartAsync(_mesh.Config("d", portD, peerPorts: [udpA], netmod: "udp"));
        var a = await StartAsync(_mesh.Config("a", portA, extraNetmods: Udp(false)));
        var addressA = await a.AddressAsync();
        var addressD = await d.AddressAsync();
        Assert.Equal(["inet:running"], await NetmodsAsync(a));

        _mesh.Config("a", portA, extraNetmods: Udp(true));
        var enabled = await ReloadAsync(a);
        Assert.True(enabled.ExitCode == 0, enabled.Stderr);
        Assert.Contains("netmod 'udp' started (enabled in the configuration)", enabled.Stdout, StringComparison.Ordinal);
        Assert.Equal(["inet:running", "udp:running"], await NetmodsAsync(a));
        await a.WaitForPeerUpAsync(addressD, Limit);
        await d.WaitForPeerUpAsync(addressA, Limit);

        _mesh.Config("a", portA, extraNetmods: Udp(false));
        var disabled = await ReloadAsync(a);
        Assert.True(disabled.ExitCode == 0, disabled.Stderr);
        Assert.Contains("netmod 'udp' stopped and unloaded (disabled in the configuration)", disabled.Stdout, StringComparison.Ordinal);
        Assert.Equal(["inet:running"], await NetmodsAsync(a));
        Assert.Contains($"Neighbour down: {addressD} via udp", a.Output, StringComparison.Ordinal);
        await RouterProcess.WaitForAsync(async () => !await HasPeerUpAsync(d, addressA), Limit, "D's udp link to A down");
    }

    [Fact]
    public async Task Reload_NetmodSettingChanged_RestartsOnlyThatNetmodAndSaysSo()
    {
        var portA = TestMesh.FreePort();
        var portC = TestMesh.FreePort();
        var c = await StartAsync(_mesh.Config("c", portC));
        var a = await StartAsync(_mesh.Config("a", portA, peerPorts: [portC]));
        var addressC = await c.AddressAsync();
        await a.WaitForPeerUpAsync(addressC, Limit);

        var config = (await File.ReadAllTextAsync(a.ConfigPath)).Replace("\"KeepaliveSeconds\": 0.5", "\"KeepaliveSeconds\": 0.6", StringComparison.Ordinal);
        await File.WriteAllTextAsync(a.ConfigPath, config.Replace("\"ApiSocket\": \"router.sock\"", "\"ApiSocket\": \"router.sock\", \"HopLimit\": 9", StringComparison.Ordinal));
        var result = await ReloadAsync(a);

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("netmod 'inet' restarted (changed: KeepaliveSeconds)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("warning: Router:HopLimit changed; it is read only at start-up", result.Stderr, StringComparison.Ordinal);
        await a.WaitForPeerUpAsync(addressC, Limit);
    }

    private const int Sighup = 1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
