using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

public sealed class UdpOptionsTests
{
    [Fact]
    public void Parse_EmptySection_UsesDefaults()
    {
        var errors = new List<string>();

        var options = UdpOptions.Parse(Udp.Section([]), errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal([new HostEndpoint("::", 5861)], options.Listen);
        Assert.Empty(options.Peers);
        Assert.True(options.Discovery);
        Assert.Equal(TimeSpan.FromSeconds(5), options.DiscoveryInterval);
        Assert.Equal(5862, options.DiscoveryPort);
        Assert.Empty(options.DiscoveryInterfaces);
        Assert.Equal(1400, options.MaxFrameSize);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Keepalive);
        Assert.Equal(TimeSpan.FromSeconds(6), options.DeadPeerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.ReconnectMin);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ReconnectMax);
        Assert.Equal(4 * 1024 * 1024, options.SocketBufferBytes);
        Assert.Equal(1024, options.MaxInboundPaths);
        Assert.Equal(8, options.MaxInboundPathsPerAddress);
        Assert.Equal(20, options.HandshakeRatePerAddress);
        Assert.Equal(40, options.HandshakeBurstPerAddress);
        Assert.True(options.Offload);
    }

    [Fact]
    public void Parse_EveryKeySet_ReadsEach()
    {
        var errors = new List<string>();
        var section = Udp.Section(new Dictionary<string, string?>
        {
            ["Enabled"] = "true",
            ["Listen:0"] = "127.0.0.1:0",
            ["Listen:1"] = "[::1]:7000",
            ["Peers:0"] = "router.example:5861",
            ["Peers:1"] = "[2001:db8::1]:5861",
            ["Peers:2"] = "router.example:5861",
            ["Discovery"] = "False",
            ["DiscoveryIntervalSeconds"] = "0.25",
            ["DiscoveryPort"] = "6000",
            ["DiscoveryInterfaces:0"] = "eth0",
            ["DiscoveryInterfaces:1"] = " wlan0 ",
            ["MaxFrameSize"] = "65000",
            ["KeepaliveSeconds"] = "0.2",
            ["DeadPeerTimeoutSeconds"] = "1",
            ["ReconnectMinSeconds"] = "0.05",
            ["ReconnectMaxSeconds"] = "3",
            ["SocketBufferBytes"] = "0",
            ["MaxInboundPaths"] = "50",
            ["MaxInboundPathsPerAddress"] = "2",
            ["HandshakeRatePerAddress"] = "5",
            ["HandshakeBurstPerAddress"] = "7",
            ["Offload"] = "false",
        });

        var options = UdpOptions.Parse(section, errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal([new HostEndpoint("127.0.0.1", 0), new HostEndpoint("::1", 7000)], options.Listen);
        Assert.Equal([new HostEndpoint("router.example", 5861), new HostEndpoint("2001:db8::1", 5861)], options.Peers);
        Assert.False(options.Discovery);
        Assert.Equal(TimeSpan.FromSeconds(0.25), options.DiscoveryInterval);
        Assert.Equal(6000, options.DiscoveryPort);
        Assert.Equal(["eth0", "wlan0"], options.DiscoveryInterfaces);
        Assert.Equal(65000, options.MaxFrameSize);
        Assert.Equal(TimeSpan.FromSeconds(0.2), options.Keepalive);
        Assert.Equal(TimeSpan.FromSeconds(1), options.DeadPeerTimeout);
        Assert.Equal(TimeSpan.FromSeconds(0.05), options.ReconnectMin);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ReconnectMax);
        Assert.Equal(0, options.SocketBufferBytes);
        Assert.Equal(50, options.MaxInboundPaths);
        Assert.Equal(2, options.MaxInboundPathsPerAddress);
        Assert.Equal(5, options.HandshakeRatePerAddress);
        Assert.Equal(7, options.HandshakeBurstPerAddress);
        Assert.False(options.Offload);
    }

    [Fact]
    public void Validate_EveryKeyBad_ReportsEachProblemAtOnceNamingTheKey()
    {
        var section = Udp.Section(new Dictionary<string, string?>
        {
            ["Enabled"] = "yes",
            ["Listen:0"] = "nonsense",
            ["Listen:1"] = "localhost:5861",
            ["Peers:0"] = "host-without-port",
            ["Peers:1"] = "[::1]:0",
            ["Discovery"] = "sometimes",
            ["DiscoveryIntervalSeconds"] = "0",
            ["DiscoveryPort"] = "70000",
            ["DiscoveryInterfaces:0"] = " ",
            ["MaxFrameSize"] = "65001",
            ["KeepaliveSeconds"] = "often",
            ["DeadPeerTimeoutSeconds"] = "-1",
            ["ReconnectMinSeconds"] = "10",
            ["ReconnectMaxSeconds"] = "5",
            ["SocketBufferBytes"] = "1000",
            ["MaxInboundPaths"] = "0",
            ["MaxInboundPathsPerAddress"] = "lots",
            ["HandshakeRatePerAddress"] = "-1",
            ["HandshakeBurstPerAddress"] = "1.5",
            ["Offload"] = "maybe",
            ["Peer:0"] = "typo.example:5861",
        });

        var errors = new UdpFactory().Validate(section).ToList();

        Assert.Equal(20, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Enabled: 'yes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Listen[0]: ", StringComparison.Ordinal) && e.Contains("'nonsense'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Listen[1]: ", StringComparison.Ordinal) && e.Contains("not an IP address", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Peers[0]: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Peers[1]: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Discovery: 'sometimes'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:DiscoveryIntervalSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:DiscoveryPort: 70000 is outside", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:DiscoveryInterfaces[0]: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:MaxFrameSize: 65001 is outside the allowed range 256..65000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:KeepaliveSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:DeadPeerTimeoutSeconds: ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:ReconnectMaxSeconds: 5 must be at least ReconnectMinSeconds (10)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:SocketBufferBytes: 1000 is below 65536", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:MaxInboundPaths: 0 is outside", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:MaxInboundPathsPerAddress: 'lots'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:HandshakeRatePerAddress: -1 is outside", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:HandshakeBurstPerAddress: '1.5'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Offload: 'maybe' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Peer: unknown setting (did you mean 'Peers'?)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:udp:Peer: ", StringComparison.Ordinal) && e.Contains("the udp settings are Enabled, Listen, Peers", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.EndsWith(".", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DeadPeerTimeoutNotAboveKeepalive_IsReported()
    {
        var errors = new UdpFactory().Validate(Udp.Section(new Dictionary<string, string?>
        {
            ["KeepaliveSeconds"] = "6",
            ["DeadPeerTimeoutSeconds"] = "6",
        })).ToList();

        Assert.StartsWith("Netmods:udp:DeadPeerTimeoutSeconds: 6 must be greater than KeepaliveSeconds (6)", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DiscoveryPortEqualToAListenPort_IsReported()
    {
        var errors = new UdpFactory().Validate(Udp.Section(new Dictionary<string, string?>
        {
            ["Listen:0"] = "[::]:5862",
        })).ToList();

        Assert.StartsWith("Netmods:udp:DiscoveryPort: 5862 is also a Listen port", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ListsGivenAsSingleStrings_AskForLists()
    {
        var errors = new UdpFactory().Validate(Udp.Section(new Dictionary<string, string?>
        {
            ["Listen"] = "[::]:5861",
            ["Peers"] = "a.example:5861",
            ["DiscoveryInterfaces"] = "eth0",
        })).ToList();

        Assert.Equal(3, errors.Count);
        Assert.All(errors, e => Assert.Contains("expected a list", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SameListenAddressTwice_IsReported()
    {
        var errors = new UdpFactory().Validate(Udp.Section(new Dictionary<string, string?>
        {
            ["Listen:0"] = "127.0.0.1:5861",
            ["Listen:1"] = "127.0.0.1:5861",
        })).ToList();

        Assert.StartsWith("Netmods:udp:Listen[1]: '127.0.0.1:5861' is listed twice", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NestedSectionWhereAValueBelongs_IsReported()
    {
        var errors = new UdpFactory().Validate(Udp.Section(new Dictionary<string, string?>
        {
            ["MaxFrameSize:Value"] = "1400",
        })).ToList();

        Assert.StartsWith("Netmods:udp:MaxFrameSize: expected a single value, not a nested section", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Create_InvalidSection_ThrowsWithTheProblems()
    {
        var context = Udp.Context(new Dictionary<string, string?> { ["MaxFrameSize"] = "x" }, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider());

        var error = Assert.Throws<ArgumentException>(() => new UdpFactory().Create(context));

        Assert.Contains("MaxFrameSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_ValidSection_ReportsCapabilities()
    {
        var context = Udp.Context(new Dictionary<string, string?> { ["MaxFrameSize"] = "1200" }, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider());

        var netmod = new UdpFactory().Create(context);

        Assert.Equal(new NetmodCapabilities("udp", 1200, BroadcastCapable: false, LinkKind.PointToPoint), netmod.Capabilities);
        Assert.NotNull(netmod.GetFeature<IPeerStatusFeature>());
        Assert.Equal("udp", new UdpFactory().Name);
    }
}
