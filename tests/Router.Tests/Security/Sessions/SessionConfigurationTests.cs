using Router.Configuration;

namespace Router.Tests.Security.Sessions;

public sealed class SessionConfigurationTests
{
    private static (RouterOptions Options, List<string> Problems) Read(params (string Key, string Value)[] values)
    {
        var configuration = RouterConfiguration.InMemory(values.Select(v => new KeyValuePair<string, string?>("Router:" + v.Key, v.Value)), Path.GetTempPath());
        var problems = new List<string>();
        return (configuration.ReadRouterOptions(problems), problems);
    }

    [Fact]
    public void ReadRouterOptions_NoSessionKeys_GivesTheDocumentedDefaults()
    {
        var (options, problems) = Read();

        Assert.Empty(problems);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Sessions.HandshakeTimeout);
        Assert.Equal(1L << 32, options.Sessions.RekeyAfterMessages);
        Assert.Equal(TimeSpan.FromSeconds(120), options.Sessions.RekeyAfter);
        Assert.Equal(16_384, options.Sessions.MaxSessions);
        Assert.Equal(TimeSpan.FromSeconds(35), options.Sessions.ReceiveGrace); // reassembly timeout + handshake timeout
        Assert.Equal(32L * 1024 * 1024, options.ReassemblyBytesPerSource);
    }

    [Fact]
    public void ReadRouterOptions_SessionKeys_AreRead()
    {
        var (options, problems) = Read(
            ("SessionHandshakeTimeoutSeconds", "2.5"), ("RekeyAfterMessages", "10"), ("RekeyAfterSeconds", "30"),
            ("MaxSessions", "100"), ("ReassemblyTimeoutSeconds", "10"), ("ReassemblyBytesPerSource", "20000000"));

        Assert.Empty(problems);
        Assert.Equal(TimeSpan.FromSeconds(2.5), options.Sessions.HandshakeTimeout);
        Assert.Equal(10, options.Sessions.RekeyAfterMessages);
        Assert.Equal(20UL, options.Sessions.SendLimit);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Sessions.RekeyAfter);
        Assert.Equal(100, options.Sessions.MaxSessions);
        Assert.Equal(TimeSpan.FromSeconds(12.5), options.Sessions.ReceiveGrace);
        Assert.Equal(20_000_000, options.ReassemblyBytesPerSource);
    }

    [Fact]
    public void ReadRouterOptions_PerSourceDefault_GrowsWithTheLargestMessage()
    {
        var (options, problems) = Read(("MaxMessageBytes", "67108864"));

        Assert.Empty(problems);
        Assert.Equal(67_108_864 + 155, options.ReassemblyBytesPerSource);
    }

    [Fact]
    public void ReadRouterOptions_BadSessionValues_AreAllReported()
    {
        var (_, problems) = Read(
            ("SessionHandshakeTimeoutSeconds", "0"), ("RekeyAfterMessages", "none"), ("RekeyAfterSeconds", "-1"),
            ("MaxSessions", "1"), ("ReassemblyBytesPerSource", "1000"));

        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Router:SessionHandshakeTimeoutSeconds: '0'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:RekeyAfterMessages: 'none'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:RekeyAfterSeconds: '-1'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:MaxSessions: '1'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:ReassemblyBytesPerSource: '1000' is not a whole number from 16777371", StringComparison.Ordinal));
    }
}
