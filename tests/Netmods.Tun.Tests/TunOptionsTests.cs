using System.Net;
using Microsoft.Extensions.Configuration;

namespace Router.Netmods.Tun.Tests;

public sealed class TunOptionsTests
{
    [Fact]
    public void Parse_EmptySection_UsesDefaults()
    {
        var errors = new List<string>();

        var options = TunOptions.Parse(Section([]), errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal("mesh0", options.Name);
        Assert.Equal(1280, options.Mtu);
        Assert.True(options.Offload);
        Assert.Equal(10_000, options.TxQueueLength);
        Assert.Equal(4000, options.GroTimeoutMicroseconds);
        Assert.Empty(options.Addresses);
        Assert.Empty(options.Prefixes);
        Assert.Equal("/dev/net/tun", options.DevicePath);
    }

    [Fact]
    public void Parse_EveryKeySet_ReadsEach()
    {
        var errors = new List<string>();
        var section = Section(new Dictionary<string, string?>
        {
            ["Enabled"] = "true",
            ["Name"] = "tun-mesh.1",
            ["Mtu"] = "9000",
            ["Offload"] = "False",
            ["TxQueueLength"] = "500",
            ["GroTimeoutMicroseconds"] = "0",
            ["Addresses:0"] = "10.66.1.1/24",
            ["Addresses:1"] = " fd00:66::1/64 ",
            ["Addresses:2"] = "192.0.2.1/32",
            ["Prefixes:0"] = "10.66.1.0/24",
            ["Prefixes:1"] = "fd00:66::/64",
            ["Prefixes:2"] = "0.0.0.0/0",
        });

        var options = TunOptions.Parse(section, errors);

        Assert.Empty(errors);
        Assert.NotNull(options);
        Assert.Equal("tun-mesh.1", options.Name);
        Assert.Equal(9000, options.Mtu);
        Assert.False(options.Offload);
        Assert.Equal(500, options.TxQueueLength);
        Assert.Equal(0, options.GroTimeoutMicroseconds);
        Assert.Equal(
            [new InterfaceAddress(IPAddress.Parse("10.66.1.1"), 24), new InterfaceAddress(IPAddress.Parse("fd00:66::1"), 64), new InterfaceAddress(IPAddress.Parse("192.0.2.1"), 32)],
            options.Addresses);
        Assert.Equal([IPNetwork.Parse("10.66.1.0/24"), IPNetwork.Parse("fd00:66::/64"), IPNetwork.Parse("0.0.0.0/0")], options.Prefixes);
    }

    [Fact]
    public void Validate_EveryKeyBad_ReportsEachProblemAtOnceNamingTheKey()
    {
        var section = Section(new Dictionary<string, string?>
        {
            ["Enabled"] = "yes",
            ["Name"] = "a-name-that-is-too-long",
            ["Mtu"] = "1279",
            ["Offload"] = "maybe",
            ["TxQueueLength"] = "0",
            ["GroTimeoutMicroseconds"] = "10001",
            ["Addresses:0"] = "10.66.1.1",
            ["Addresses:1"] = "10.66.1.300/24",
            ["Addresses:2"] = "10.66.1.1/33",
            ["Addresses:3"] = "fd6d::1/64",
            ["Addresses:4"] = "10.9.9.9/0",
            ["Prefixes:0"] = "10.66.1.1/24",
            ["Prefixes:1"] = "fd00:66::1/64",
            ["Prefixes:2"] = "fd6d:1::/32",
            ["Prefixes:3"] = "nonsense",
            ["Prefix:0"] = "10.0.0.0/8",
        });

        var errors = new TunFactory().Validate(section).ToList();

        Assert.Equal(16, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Prefix: unknown setting (did you mean 'Prefixes'?)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Enabled: 'yes' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Name: 'a-name-that-is-too-long' is not a usable interface name: it is 23 characters; Linux allows at most 15", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Mtu: 1279 is outside the allowed range 1280..65535", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Offload: 'maybe' is not true or false", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:TxQueueLength: 0 is outside the allowed range 1..1000000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:GroTimeoutMicroseconds: 10001 is outside the allowed range 0..10000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Addresses[0]: '10.66.1.1' has no prefix length", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Addresses[1]: '10.66.1.300/24' is not an IPv4 or IPv6 address", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Addresses[2]: '10.66.1.1/33' has no prefix length from 0 to 32", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Addresses[3]: 'fd6d::1/64' lies in the overlay prefix fd6d::/16", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Addresses[4]: '10.9.9.9/0' has prefix length 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e == "Netmods:tun:Prefixes[0]: '10.66.1.1/24' has host bits set; the network is 10.66.1.0/24.");
        Assert.Contains(errors, e => e == "Netmods:tun:Prefixes[1]: 'fd00:66::1/64' has host bits set; the network is fd00:66::/64.");
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Prefixes[2]: 'fd6d:1::/32' lies in the overlay prefix fd6d::/16", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Netmods:tun:Prefixes[3]: 'nonsense' has no prefix length", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData(".", "is not allowed by Linux")]
    [InlineData("..", "is not allowed by Linux")]
    [InlineData("mesh 0", "printable ASCII without spaces")]
    [InlineData("mesh/0", "printable ASCII without spaces")]
    [InlineData("mesh:0", "printable ASCII without spaces")]
    [InlineData("mesh%d", "printable ASCII without spaces")]
    [InlineData("mésh0", "printable ASCII without spaces")]
    [InlineData("sixteen-chars-xx", "it is 16 characters; Linux allows at most 15")]
    public void Validate_UnusableName_SaysWhy(string name, string reason)
    {
        var errors = new TunFactory().Validate(Section(new Dictionary<string, string?> { ["Name"] = name })).ToList();

        var error = Assert.Single(errors);
        Assert.StartsWith($"Netmods:tun:Name: '{name}' is not a usable interface name: ", error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FifteenCharacterName_IsAccepted()
    {
        Assert.Empty(new TunFactory().Validate(Section(new Dictionary<string, string?> { ["Name"] = "fifteen-chars-x" })));
    }

    [Theory]
    [InlineData("1280", true)]
    [InlineData("65535", true)]
    [InlineData("65536", false)]
    [InlineData("1500.5", false)]
    public void Validate_Mtu_RangeIs1280To65535(string mtu, bool valid)
    {
        var errors = new TunFactory().Validate(Section(new Dictionary<string, string?> { ["Mtu"] = mtu })).ToList();

        Assert.Equal(valid, errors.Count == 0);
    }

    [Fact]
    public void Validate_PrefixesOverBudget_SaysHowManyBytesTheyTake()
    {
        // 5 IPv6 /64s: 5 × (2 + 8) = 50 bytes; two IPv4 /24s: 2 × (2 + 3) = 10; a /32: 2 + 4 = 6. 66 > 63.
        var settings = new Dictionary<string, string?>();
        string[] prefixes = ["fd00:1::/64", "fd00:2::/64", "fd00:3::/64", "fd00:4::/64", "fd00:5::/64", "10.1.0.0/24", "10.2.0.0/24", "10.3.0.1/32"];
        for (var i = 0; i < prefixes.Length; i++)
        {
            settings[$"Prefixes:{i}"] = prefixes[i];
        }

        var error = Assert.Single(new TunFactory().Validate(Section(settings)));

        Assert.StartsWith("Netmods:tun:Prefixes: the 8 prefixes take 66 bytes in the router's announcement", error, StringComparison.Ordinal);
        Assert.Contains("at most 63 fit", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PrefixesExactlyAtBudget_AreAccepted()
    {
        // 5 × 10 + 2 × 5 + one /8 (2 + 1) = 63.
        var settings = new Dictionary<string, string?>();
        string[] prefixes = ["fd00:1::/64", "fd00:2::/64", "fd00:3::/64", "fd00:4::/64", "fd00:5::/64", "10.1.0.0/24", "10.2.0.0/24", "11.0.0.0/8"];
        for (var i = 0; i < prefixes.Length; i++)
        {
            settings[$"Prefixes:{i}"] = prefixes[i];
        }

        Assert.Empty(new TunFactory().Validate(Section(settings)));
        Assert.Equal(63, TunOptions.EncodedBytes(prefixes.Select(p => IPNetwork.Parse(p))));
    }

    [Theory]
    [InlineData("Addresses", "10.1.1.1/24", "10.1.1.1/16", "listed twice")]
    [InlineData("Prefixes", "10.1.0.0/16", "10.1.0.0/16", "listed twice")]
    public void Validate_Duplicates_AreReported(string key, string first, string second, string reason)
    {
        var errors = new TunFactory().Validate(Section(new Dictionary<string, string?> { [$"{key}:0"] = first, [$"{key}:1"] = second })).ToList();

        var error = Assert.Single(errors);
        Assert.StartsWith($"Netmods:tun:{key}[1]: ", error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.1/24")]
    [InlineData("fe80::1%eth0/64")]
    [InlineData("::ffff:10.1.1.1/120")]
    [InlineData("10.1.1.1/-1")]
    [InlineData("10.1.1.1/ 24")]
    public void Validate_OddAddressForms_AreRefused(string address)
    {
        var error = Assert.Single(new TunFactory().Validate(Section(new Dictionary<string, string?> { ["Addresses:0"] = address })));

        Assert.StartsWith("Netmods:tun:Addresses[0]: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SingleStringWhereAListBelongs_IsReported()
    {
        var error = Assert.Single(new TunFactory().Validate(Section(new Dictionary<string, string?> { ["Prefixes"] = "10.1.0.0/16" })));

        Assert.Equal("Netmods:tun:Prefixes: expected a list of networks such as [\"10.1.0.0/16\"], not a single value.", error);
    }

    [Fact]
    public void Create_InvalidSection_ThrowsWithEveryProblem()
    {
        var context = NetmodTestContext.Create("tun", new Dictionary<string, string?> { ["Mtu"] = "1", ["Offload"] = "x" }, NetmodTestContext.RandomAddress(), new CapturingLoggerProvider());

        var e = Assert.Throws<ArgumentException>(() => new TunFactory().Create(context));

        Assert.Contains("Mtu", e.Message, StringComparison.Ordinal);
        Assert.Contains("Offload", e.Message, StringComparison.Ordinal);
    }

    private static IConfigurationSection Section(IEnumerable<KeyValuePair<string, string?>> settings) => NetmodTestContext.Section("tun", settings);
}
