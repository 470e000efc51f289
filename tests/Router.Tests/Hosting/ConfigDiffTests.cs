using Router.Configuration;
using Router.Hosting;

namespace Router.Tests.Hosting;

/// <summary>What a reload decides to do, from the file in force, the new file and what runs.</summary>
public class ConfigDiffTests
{
    private static RouterConfiguration Config(params (string Key, string Value)[] values) =>
        RouterConfiguration.InMemory(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)), Path.GetTempPath());

    private static readonly (string, string)[] Inet =
    [
        ("Netmods:inet:Enabled", "true"),
        ("Netmods:inet:Listen:0", "127.0.0.1:5860"),
        ("Netmods:inet:Peers:0", "127.0.0.1:5870"),
        ("Netmods:inet:Peers:1", "127.0.0.1:5880"),
    ];

    /// <summary>Every netmod of <paramref name="configuration"/> that is enabled, running with its settings.</summary>
    private static Dictionary<string, RunningNetmod> Running(RouterConfiguration configuration, params string[] failed) =>
        configuration.ConfiguredNetmods()
            .Where(n => configuration.IsEnabled(n, []))
            .ToDictionary(n => n, n => new RunningNetmod(ConfigDiff.Settings(configuration, n), failed.Contains(n)), StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void Compute_SameConfiguration_ChangesNothing()
    {
        var current = Config(Inet);
        var changes = ConfigDiff.Compute(current, Config(Inet), Running(current));

        Assert.True(changes.IsEmpty);
    }

    [Fact]
    public void Compute_PeerAdded_GivesThePeerDifferenceOnly()
    {
        var current = Config(Inet);
        var next = Config([.. Inet, ("Netmods:inet:Peers:2", "peer.example.org:5860")]);

        var change = Assert.Single(ConfigDiff.Compute(current, next, Running(current)).Netmods);

        Assert.Equal(NetmodChangeKind.Peers, change.Kind);
        Assert.Equal(["peer.example.org:5860"], change.AddedPeers);
        Assert.Empty(change.RemovedPeers);
    }

    [Fact]
    public void Compute_PeerRemovedAndAnotherAdded_GivesBoth()
    {
        var current = Config(Inet);
        var next = Config(("Netmods:inet:Enabled", "true"), ("Netmods:inet:Listen:0", "127.0.0.1:5860"), ("Netmods:inet:Peers:0", "127.0.0.1:5880"), ("Netmods:inet:Peers:1", "127.0.0.1:5890"));

        var change = Assert.Single(ConfigDiff.Compute(current, next, Running(current)).Netmods);

        Assert.Equal(NetmodChangeKind.Peers, change.Kind);
        Assert.Equal(["127.0.0.1:5890"], change.AddedPeers);
        Assert.Equal(["127.0.0.1:5870"], change.RemovedPeers);
    }

    [Fact]
    public void Compute_PeersReorderedOrEmptyListVersusNone_ChangesNothing()
    {
        var current = Config(("Netmods:inet:Peers:0", "a:1"), ("Netmods:inet:Peers:1", "b:2"));
        var reordered = Config(("Netmods:inet:Peers:0", "b:2"), ("Netmods:inet:Peers:1", "a:1"));
        Assert.True(ConfigDiff.Compute(current, reordered, Running(current)).IsEmpty);

        // An empty JSON list has no keys at all, like a missing one.
        var none = Config(("Netmods:udp:Discovery", "false"));
        var empty = Config(("Netmods:udp:Discovery", "false"), ("Netmods:udp:Peers", null!));
        Assert.True(ConfigDiff.Compute(none, empty, Running(none)).IsEmpty);
    }

    [Fact]
    public void Compute_OtherKeyChanged_RestartsThatNetmodNamingTheKeys()
    {
        var current = Config([.. Inet, ("Netmods:udp:Enabled", "true")]);
        var next = Config(("Netmods:inet:Enabled", "true"), ("Netmods:inet:Listen:0", "127.0.0.1:5861"), ("Netmods:inet:Peers:0", "127.0.0.1:5870"), ("Netmods:inet:Peers:1", "127.0.0.1:5880"), ("Netmods:inet:KeepaliveSeconds", "2"), ("Netmods:udp:Enabled", "true"));

        var change = Assert.Single(ConfigDiff.Compute(current, next, Running(current)).Netmods);

        Assert.Equal("inet", change.Name);
        Assert.Equal(NetmodChangeKind.Restart, change.Kind);
        Assert.Equal(["KeepaliveSeconds", "Listen:0"], change.ChangedKeys);
    }

    [Fact]
    public void Compute_NetmodEnabledAndAnotherDisabled_StartsOneStopsTheOther()
    {
        var current = Config([.. Inet, ("Netmods:udp:Enabled", "false")]);
        var next = Config(("Netmods:inet:Enabled", "false"), ("Netmods:udp:Enabled", "true"));

        var changes = ConfigDiff.Compute(current, next, Running(current)).Netmods;

        Assert.Equal([("inet", NetmodChangeKind.Stop), ("udp", NetmodChangeKind.Start)], changes.Select(c => (c.Name, c.Kind)));
    }

    [Fact]
    public void Compute_SectionRemoved_StopsTheNetmod()
    {
        var current = Config([.. Inet, ("Netmods:udp:Discovery", "false")]);
        var next = Config(Inet);

        var change = Assert.Single(ConfigDiff.Compute(current, next, Running(current)).Netmods);

        Assert.Equal(("udp", NetmodChangeKind.Stop), (change.Name, change.Kind));
    }

    [Fact]
    public void Compute_NetmodLoadedByHandWhileDisabled_KeepsRunningWhenTheFileDoesNotTouchIt()
    {
        var current = Config([.. Inet, ("Netmods:good:Enabled", "false")]);
        var running = Running(current);
        running["good"] = new RunningNetmod(ConfigDiff.Settings(current, "good"), Failed: false);

        Assert.True(ConfigDiff.Compute(current, Config([.. Inet, ("Netmods:good:Enabled", "false")]), running).IsEmpty);
    }

    [Fact]
    public void Compute_NetmodUnloadedByHand_StaysUnloadedUnlessItsSectionChanges()
    {
        var current = Config([.. Inet, ("Netmods:udp:Discovery", "false")]);
        var running = Running(current);
        running.Remove("udp");

        Assert.True(ConfigDiff.Compute(current, Config([.. Inet, ("Netmods:udp:Discovery", "false")]), running).IsEmpty);
        var change = Assert.Single(ConfigDiff.Compute(current, Config([.. Inet, ("Netmods:udp:Discovery", "true")]), running).Netmods);
        Assert.Equal(("udp", NetmodChangeKind.Start), (change.Name, change.Kind));
    }

    [Fact]
    public void Compute_FailedNetmod_IsTriedAgain()
    {
        var current = Config(Inet);

        var change = Assert.Single(ConfigDiff.Compute(current, Config(Inet), Running(current, failed: "inet")).Netmods);

        Assert.Equal(NetmodChangeKind.Restart, change.Kind);
    }

    [Fact]
    public void Compute_StartUpOnlyKeysChanged_ReportedAsNeedingARestartAndNothingRestarts()
    {
        var current = Config([.. Inet, ("Router:KeyFile", "a.key"), ("Router:HopLimit", "64")]);
        var next = Config([.. Inet, ("Router:KeyFile", "b.key"), ("Router:HopLimit", "64"), ("Router:AllowedPeers:0", "x"), ("Netmods:inet:AcceptUnknownPeers", "false")]);

        var changes = ConfigDiff.Compute(current, next, Running(current));

        Assert.Empty(changes.Netmods);
        Assert.Equal(["Router:AllowedPeers", "Router:KeyFile", "Netmods:inet:AcceptUnknownPeers"], changes.NeedsRestart);
    }

    [Fact]
    public void Compute_StartUpOnlyKeyChangedEarlier_IsStillReportedAgainstWhatTheRouterStartedWith()
    {
        var started = Config([.. Inet, ("Router:KeyFile", "a.key")]);
        var applied = Config([.. Inet, ("Router:KeyFile", "b.key")]);
        var again = Config([.. Inet, ("Router:KeyFile", "b.key"), ("Logging:LogLevel:Default", "Debug")]);
        var back = Config([.. Inet, ("Router:KeyFile", "a.key")]);

        Assert.Equal(["Router:KeyFile"], ConfigDiff.Compute(applied, again, Running(applied), started).NeedsRestart);
        Assert.Empty(ConfigDiff.Compute(applied, back, Running(applied), started).NeedsRestart);
    }

    [Fact]
    public void Compute_LoggingChanged_IsFlagged()
    {
        var current = Config([.. Inet, ("Logging:LogLevel:Default", "Information")]);
        var next = Config([.. Inet, ("Logging:LogLevel:Default", "Debug")]);

        var changes = ConfigDiff.Compute(current, next, Running(current));

        Assert.True(changes.LoggingChanged);
        Assert.Empty(changes.Netmods);
        Assert.Empty(changes.NeedsRestart);
    }
}
