using Router.Sdk;
using Router.Sdk.Testing;

namespace Router.Tests.Sdk;

public class NetmodConfigReaderTests
{
    private static readonly string[] Keys = ["Listen", "Peers", "Size", "TimeoutSeconds", "Enabled", "Names"];

    private static NetmodConfigReader Reader(Dictionary<string, string?> settings) =>
        new(NetmodTestContext.Section("demo", settings), "demo", Keys);

    [Fact]
    public void Read_EmptySection_ReturnsFallbacksWithoutProblems()
    {
        var reader = Reader([]);

        Assert.Equal(7, reader.ReadInt("Size", 7, 1, 10));
        Assert.Equal(TimeSpan.FromSeconds(3), reader.ReadSeconds("TimeoutSeconds", TimeSpan.FromSeconds(3)));
        Assert.True(reader.ReadBool("Enabled", true));
        Assert.Empty(reader.ReadStrings("Names", "interface name", "eth0")!);
        Assert.Equal([new HostEndpoint("::", 1)], reader.ReadListenEndpoints("Listen", [new HostEndpoint("::", 1)], 1));
        Assert.Empty(reader.ReadPeerEndpoints("Peers", 1)!);
        Assert.False(reader.HasProblems);
        Assert.Equal("Netmods:demo", reader.Path);
    }

    [Fact]
    public void Read_EveryValueBad_RecordsOneSentencePerKeyNamingPathAndKey()
    {
        var reader = Reader(new()
        {
            ["Size"] = "11",
            ["TimeoutSeconds"] = "soon",
            ["Enabled"] = "yes",
            ["Names:0"] = " ",
            ["Listen:0"] = "localhost:1",
            ["Peers:0"] = "[::1]:0",
            ["Sise"] = "1",
        });

        Assert.Null(reader.ReadInt("Size", 7, 1, 10));
        Assert.Null(reader.ReadSeconds("TimeoutSeconds", TimeSpan.FromSeconds(3)));
        Assert.Null(reader.ReadBool("Enabled", true));
        Assert.Null(reader.ReadStrings("Names", "interface name", "eth0"));
        Assert.Null(reader.ReadListenEndpoints("Listen", [], 1));
        Assert.Null(reader.ReadPeerEndpoints("Peers", 1));

        Assert.Equal(
            [
                "Netmods:demo:Sise: unknown setting (did you mean 'Size'?); the demo settings are Listen, Peers, Size, TimeoutSeconds, Enabled, Names.",
                "Netmods:demo:Size: 11 is outside the allowed range 1..10.",
                "Netmods:demo:TimeoutSeconds: 'soon' is not a number of seconds.",
                "Netmods:demo:Enabled: 'yes' is not true or false.",
                "Netmods:demo:Names[0]: expected an interface name such as \"eth0\".",
                "Netmods:demo:Listen[0]: 'localhost' is not an IP address; listen addresses are IP literals such as 0.0.0.0:1 or [::]:1.",
                "Netmods:demo:Peers[0]: '0' in '[::1]:0' is not a port (1-65535).",
            ],
            reader.Problems);
    }

    [Fact]
    public void ReadSeconds_Fractional_IsExactAndRangeIsChecked()
    {
        var reader = Reader(new() { ["TimeoutSeconds"] = "0.25" });

        Assert.Equal(TimeSpan.FromSeconds(0.25), reader.ReadSeconds("TimeoutSeconds", TimeSpan.Zero));
        Assert.Null(reader.ReadSeconds("TimeoutSeconds", TimeSpan.Zero, minSeconds: 1));
        Assert.Equal("Netmods:demo:TimeoutSeconds: 0.25 is outside the allowed range 1..86400 seconds.", Assert.Single(reader.Problems));
    }

    [Fact]
    public void Read_NestedSectionOrSingleStringForList_IsReported()
    {
        var reader = Reader(new() { ["Size:Value"] = "1", ["Peers"] = "a.example:1" });

        Assert.Null(reader.ReadInt("Size", 7, 1, 10));
        Assert.Null(reader.ReadPeerEndpoints("Peers", 1));

        Assert.Equal(
            [
                "Netmods:demo:Size: expected a single value, not a nested section.",
                "Netmods:demo:Peers: expected a list of addresses such as [\"a.example:1\"], not a single value.",
            ],
            reader.Problems);
    }

    [Fact]
    public void ReadEndpoints_Repeats_PeerKeptOnceListenReportedPortZeroAllowed()
    {
        var reader = Reader(new()
        {
            ["Peers:0"] = "a.example:1",
            ["Peers:1"] = "A.example:1",
            ["Listen:0"] = "127.0.0.1:0",
            ["Listen:1"] = "127.0.0.1:0",
        });

        Assert.Equal([new HostEndpoint("a.example", 1)], reader.ReadPeerEndpoints("Peers", 1));
        Assert.Equal([new HostEndpoint("127.0.0.1", 0), new HostEndpoint("127.0.0.1", 0)], reader.ReadListenEndpoints("Listen", [], 1));
        Assert.False(reader.HasProblems);
    }

    [Fact]
    public void Report_CrossKeyProblem_IsPrefixedWithPathAndKey()
    {
        var reader = Reader([]);

        reader.Report("Size", $"{NetmodConfigReader.FormatSeconds(TimeSpan.FromMilliseconds(1500))} is too big.");

        Assert.Equal("Netmods:demo:Size: 1.5 is too big.", Assert.Single(reader.Problems));
    }
}
