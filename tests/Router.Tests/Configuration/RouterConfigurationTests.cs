using Router.Configuration;

namespace Router.Tests.Configuration;

public class RouterConfigurationTests
{
    private static RouterConfiguration Load(TempDirectory dir, string json, string[]? overrides = null, Dictionary<string, string?>? environment = null)
    {
        var path = dir.File("config.json");
        File.WriteAllText(path, json);
        return RouterConfiguration.Load(path, overrides ?? [], environment ?? []);
    }

    [Fact]
    public void ReadRouterOptions_RelativePaths_ResolveAgainstTheConfigFolder()
    {
        using var dir = new TempDirectory();
        var config = Load(dir, """{ "Router": { "KeyFile": "keys/r.key", "ApiSocket": "r.sock", "PluginsDirectory": "p" } }""");
        var problems = new List<string>();
        var options = config.ReadRouterOptions(problems);

        Assert.Empty(problems);
        Assert.Equal(Path.Combine(dir.Path, "keys", "r.key"), options.KeyFile);
        Assert.Equal(Path.Combine(dir.Path, "r.sock"), options.ApiSocket);
        Assert.Equal(Path.Combine(dir.Path, "p"), options.PluginsDirectory);
    }

    [Fact]
    public void ReadRouterOptions_Defaults_AreBesideTheConfigAndTheExecutable()
    {
        using var dir = new TempDirectory();
        var options = Load(dir, "{}").ReadRouterOptions([]);
        Assert.Equal(Path.Combine(dir.Path, "router.key"), options.KeyFile);
        Assert.Equal(Path.Combine(dir.Path, "router.sock"), options.ApiSocket);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "plugins"), options.PluginsDirectory);
        Assert.Equal(16 * 1024 * 1024, options.MaxMessageBytes);
    }

    [Fact]
    public void ReadRouterOptions_SeveralProblems_AreAllReported()
    {
        using var dir = new TempDirectory();
        var config = Load(dir, """
            {
              "Router": { "KeyFiel": "x", "MaxMessageBytes": "lots", "HopLimit": 0, "ApiSocket": "/tmp/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.sock" },
              "Netmod": {}
            }
            """);
        var problems = new List<string>();
        config.ReadRouterOptions(problems);

        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Router:KeyFiel: unknown key", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:MaxMessageBytes: 'lots'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:HopLimit: '0'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("107 bytes", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Netmod: unknown section", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_EnvironmentThenCommandLine_OverrideTheFileInThatOrder()
    {
        using var dir = new TempDirectory();
        const string json = """{ "Router": { "KeyFile": "file.key", "ApiSocket": "file.sock", "HopLimit": 10 } }""";
        var environment = new Dictionary<string, string?>
        {
            ["ROUTER__Router__ApiSocket"] = "env.sock",
            ["ROUTER__Router__HopLimit"] = "20",
            ["OTHER__Router__KeyFile"] = "ignored.key",
        };
        var options = Load(dir, json, ["--Router:HopLimit", "30"], environment).ReadRouterOptions([]);

        Assert.Equal(Path.Combine(dir.Path, "file.key"), options.KeyFile);
        Assert.Equal(Path.Combine(dir.Path, "env.sock"), options.ApiSocket);
        Assert.Equal(30, options.HopLimit);
    }

    [Fact]
    public void Load_BrokenJson_IsAProblemNamingTheFile()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<ConfigurationException>(() => Load(dir, "{ \"Router\": "));
        Assert.Contains(dir.File("config.json"), Assert.Single(e.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_IsAProblem()
    {
        var e = Assert.Throws<ConfigurationException>(() => RouterConfiguration.Load("/nonexistent/router.json", []));
        Assert.Contains("does not exist", Assert.Single(e.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void IsEnabled_SectionWithoutEnabled_MeansEnabled()
    {
        using var dir = new TempDirectory();
        var config = Load(dir, """{ "Netmods": { "a": {}, "b": { "Enabled": false }, "c": { "Enabled": "maybe" } } }""");
        var problems = new List<string>();
        Assert.True(config.IsEnabled("a", problems));
        Assert.False(config.IsEnabled("b", problems));
        Assert.False(config.IsEnabled("c", problems));
        Assert.False(config.IsEnabled("absent", problems));
        Assert.Equal("Netmods:c:Enabled: 'maybe' is not true or false.", Assert.Single(problems));
    }

    [Fact]
    public void Security_GlobalAndPerNetmodPeerPolicies_AreRead_AndNetmodsNeverSeeTheCoreKeys()
    {
        using var dir = new TempDirectory();
        const string friend = "0000000100000002000000030000000400000005000000060000000700000008";
        const string other = "1111111122222222333333334444444455555555666666667777777788888888";
        var config = Load(dir, $$"""
            {
              "Router": { "NetworkSecret": "sixteen characters or more", "AcceptUnknownPeers": false, "AllowedPeers": ["{{friend}}"] },
              "Netmods": {
                "udp": { "Enabled": true, "AcceptUnknownPeers": true, "Listen": ["[::]:5861"] },
                "inet": { "AllowedPeers": ["{{other}}"], "Peers": ["example.org:5860"] }
              }
            }
            """);
        var problems = new List<string>();
        var security = config.ReadRouterOptions(problems).Security;

        Assert.Empty(problems);
        Assert.Equal("sixteen characters or more", security.NetworkSecret);
        Assert.False(security.Peers.Allows(Router.Sdk.RouterAddress.Parse(other)));
        Assert.True(security.Peers.Allows(Router.Sdk.RouterAddress.Parse(friend)));
        Assert.True(security.PolicyFor("udp").Allows(Router.Sdk.RouterAddress.Parse(other)));        // per netmod: accept anyone
        Assert.True(security.PolicyFor("inet").Allows(Router.Sdk.RouterAddress.Parse(other)));       // per netmod: its own list
        Assert.False(security.PolicyFor("inet").Allows(Router.Sdk.RouterAddress.Parse(friend)));     // ...which replaces the global one
        Assert.False(security.PolicyFor("inet").AcceptUnknownPeers);                           // inherited

        var udp = config.NetmodSettings("udp");
        Assert.Equal("Netmods:udp", udp.Path);
        Assert.Equal(["Listen"], udp.GetChildren().Select(c => c.Key));
        Assert.Equal(["Peers"], config.NetmodSettings("inet").GetChildren().Select(c => c.Key));
    }

    [Fact]
    public void Security_BadValues_AreAllReported()
    {
        using var dir = new TempDirectory();
        var config = Load(dir, """
            {
              "Router": { "NetworkSecret": "short", "AcceptUnknownPeers": "maybe", "AllowedPeers": ["not-an-address"], "HandshakeTimeoutSeconds": 0, "ControlFramesPerSecond": 1 },
              "Netmods": { "inet": { "AllowedPeers": "0000000100000002000000030000000400000005000000060000000700000008" } }
            }
            """);
        var problems = new List<string>();
        config.ReadRouterOptions(problems);

        Assert.Contains(problems, p => p.StartsWith("Router:NetworkSecret: too short", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:AcceptUnknownPeers:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:AllowedPeers:0:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:HandshakeTimeoutSeconds:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:ControlFramesPerSecond:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Netmods:inet:AllowedPeers: must be a list", StringComparison.Ordinal));
    }
}
