using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

public sealed class InetOptionsTests
{
    [Fact]
    public void Parse_EmptySection_UsesDefaults()
    {
        var errors = new List<string>();

        var options = InetOptions.Parse(Inet.Section([]), errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal([new HostEndpoint("::", 5860)], options.Listen);
        Assert.Empty(options.Peers);
        Assert.Equal(131072, options.MaxFrameSize);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Keepalive);
        Assert.Equal(TimeSpan.FromSeconds(15), options.DeadPeerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), options.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(1), options.ReconnectMin);
        Assert.Equal(TimeSpan.FromSeconds(60), options.ReconnectMax);
        Assert.Equal(256, options.SendQueueFrames);
        Assert.Equal(1024, options.MaxInboundConnections);
        Assert.Equal(8, options.MaxInboundConnectionsPerAddress);
        Assert.Equal(256, options.MaxPendingHandshakes);
    }

    [Fact]
    public void Parse_EveryKeySet_ReadsEachIncludingFractionalSeconds()
    {
        var errors = new List<string>();
        var section = Inet.Section(new Dictionary<string, string?>
        {
            ["Enabled"] = "true",
            ["Listen:0"] = "127.0.0.1:0",
            ["Listen:1"] = "[::1]:7000",
            ["Peers:0"] = "router.example:5860",
            ["Peers:1"] = "[2001:db8::1]:5860",
            ["Peers:2"] = "router.example:5860",
            ["MaxFrameSize"] = "2048",
            ["KeepaliveSeconds"] = "0.2",
            ["DeadPeerTimeoutSeconds"] = "1",
            ["HandshakeTimeoutSeconds"] = "2.5",
            ["ReconnectMinSeconds"] = "0.05",
            ["ReconnectMaxSeconds"] = "3",
            ["SendQueueFrames"] = "8",
            ["MaxInboundConnections"] = "100",
            ["MaxInboundConnectionsPerAddress"] = "3",
            ["MaxPendingHandshakes"] = "20",
        });

        var options = InetOptions.Parse(section, errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal([new HostEndpoint("127.0.0.1", 0), new HostEndpoint("::1", 7000)], options.Listen);
        Assert.Equal([new HostEndpoint("router.example", 5860), new HostEndpoint("2001:db8::1", 5860)], options.Peers);
        Assert.Equal(2048, options.MaxFrameSize);
        Assert.Equal(TimeSpan.FromSeconds(0.2), options.Keepalive);
        Assert.Equal(TimeSpan.FromSeconds(1), options.DeadPeerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(0.05), options.ReconnectMin);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ReconnectMax);
        Assert.Equal(8, options.SendQueueFrames);
        Assert.Equal(100, options.MaxInboundConnections);
        Assert.Equal(3, options.MaxInboundConnectionsPerAddress);
        Assert.Equal(20, options.MaxPendingHandshakes);
    }

    [Fact]
    public void Validate_EveryKeyBad_ReportsEachProblemAtOnceNamingTheKey()
    {
        var section = Inet.Section(new Dictionary<string, string?>
        {
            ["Listen:0"] = "nonsense",
            ["Listen:1"] = "localhost:5860",
            ["Peers:0"] = "host-without-port",
            ["Peers:1"] = "[::1]:0",
            ["MaxFrameSize"] = "100",
            ["KeepaliveSeconds"] = "often",
            ["DeadPeerTimeoutSeconds"] = "-1",
            ["HandshakeTimeoutSeconds"] = "0",
            ["ReconnectMinSeconds"] = "10",
            ["ReconnectMaxSeconds"] = "5",
            ["SendQueueFrames"] = "0",
            ["MaxInboundConnections"] = "0",
            ["MaxInboundConnectionsPerAddress"] = "many",
            ["MaxPendingHandshakes"] = "-5",
            ["Peer:0"] = "typo.example:5860",
        });

        var errors = new InetFactory().Validate(section).ToList();

        Assert.Equal(14, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:Listen[0]: ", StringComparison.Ordinal) && e.Contains("'nonsense'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:Listen[1]: ", StringComparison.Ordinal) && e.Contains("not an IP address", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:Peers[0]: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:Peers[1]: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:MaxFrameSize: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:KeepaliveSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:DeadPeerTimeoutSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:HandshakeTimeoutSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:ReconnectMaxSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:SendQueueFrames: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:MaxInboundConnections: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:MaxInboundConnectionsPerAddress: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:MaxPendingHandshakes: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:inet:Peer: unknown setting (did you mean 'Peers'?)", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.EndsWith(".", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DeadPeerTimeoutNotAboveKeepalive_IsReported()
    {
        var errors = new InetFactory().Validate(Inet.Section(new Dictionary<string, string?>
        {
            ["KeepaliveSeconds"] = "5",
            ["DeadPeerTimeoutSeconds"] = "5",
        })).ToList();

        var error = Assert.Single(errors);
        Assert.StartsWith("Netmods:inet:DeadPeerTimeoutSeconds: 5 must be greater than KeepaliveSeconds (5)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ListenGivenAsSingleString_AsksForAList()
    {
        var errors = new InetFactory().Validate(Inet.Section(new Dictionary<string, string?> { ["Listen"] = "[::]:5860" })).ToList();

        Assert.Contains("expected a list", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SameListenAddressTwice_IsReported()
    {
        var errors = new InetFactory().Validate(Inet.Section(new Dictionary<string, string?>
        {
            ["Listen:0"] = "127.0.0.1:5860",
            ["Listen:1"] = "127.0.0.1:5860",
        })).ToList();

        Assert.StartsWith("Netmods:inet:Listen[1]: '127.0.0.1:5860' is listed twice", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ListenPresentButEmpty_ListensNowhere()
    {
        var errors = new List<string>();

        var options = InetOptions.Parse(Inet.Section(new Dictionary<string, string?> { ["Listen"] = null }), errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Empty(options.Listen);
    }

    [Fact]
    public void Create_InvalidSection_ThrowsWithTheProblems()
    {
        var context = Inet.Context(new Dictionary<string, string?> { ["MaxFrameSize"] = "x" }, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider());

        var error = Assert.Throws<ArgumentException>(() => new InetFactory().Create(context));

        Assert.Contains("MaxFrameSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_ValidSection_ReportsCapabilities()
    {
        var context = Inet.Context(new Dictionary<string, string?> { ["MaxFrameSize"] = "4096" }, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider());

        var netmod = new InetFactory().Create(context);

        Assert.Equal(new NetmodCapabilities("inet", 4096, BroadcastCapable: false, LinkKind.PointToPoint), netmod.Capabilities);
        Assert.NotNull(netmod.GetFeature<IPeerStatusFeature>());
    }
}
