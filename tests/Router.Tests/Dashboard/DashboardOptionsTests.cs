using System.Net;
using Microsoft.Extensions.Configuration;
using Router.Dashboard;

namespace Router.Tests.Dashboard;

public sealed class DashboardOptionsTests
{
    private static DashboardOptions Read(string json, List<string> problems)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        var root = new ConfigurationBuilder().AddJsonStream(stream).Build();
        return DashboardOptions.Read(root.GetSection("Router:Dashboard"), problems);
    }

    [Fact]
    public void Read_NoSection_EnabledOnLoopback5880()
    {
        var problems = new List<string>();
        var options = Read("{}", problems);

        Assert.Empty(problems);
        Assert.True(options.Enabled);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 5880), options.Listen);
        Assert.Empty(options.AllowedHosts);
    }

    [Theory]
    [InlineData("127.0.0.1:9000", "127.0.0.1", 9000)]
    [InlineData("[::1]:9001", "::1", 9001)]
    [InlineData("0.0.0.0:80", "0.0.0.0", 80)]
    [InlineData("[::]:65535", "::", 65535)]
    public void Read_Listen_Parsed(string text, string address, int port)
    {
        var problems = new List<string>();
        var options = Read($$"""{ "Router": { "Dashboard": { "Listen": "{{text}}", "Enabled": false, "AllowedHosts": ["mesh.example.org"] } } }""", problems);

        Assert.Empty(problems);
        Assert.False(options.Enabled);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), options.Listen);
        Assert.Equal(["mesh.example.org"], options.AllowedHosts);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost:5880")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("::1:5880")]
    [InlineData("[::1]")]
    [InlineData("")]
    public void Read_BadListen_ProblemNamesKeyAndValue(string text)
    {
        var problems = new List<string>();
        var options = Read($$"""{ "Router": { "Dashboard": { "Listen": "{{text}}" } } }""", problems);

        var problem = Assert.Single(problems);
        Assert.StartsWith($"Router:Dashboard:Listen: '{text}' is not an IP address and port", problem, StringComparison.Ordinal);
        Assert.Equal(new DashboardOptions().Listen, options.Listen);
    }

    [Fact]
    public void Read_SeveralProblems_AllReported()
    {
        var problems = new List<string>();
        Read("""{ "Router": { "Dashboard": { "Enabled": "yes", "Listen": "x", "Port": 1, "AllowedHosts": ["a b", "http://x"] } } }""", problems);

        Assert.Equal(5, problems.Count);
        Assert.Contains("Router:Dashboard:Enabled: 'yes' is not true or false.", problems);
        Assert.Contains(problems, p => p.StartsWith("Router:Dashboard:Listen: 'x'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:Dashboard:Port: unknown key", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:Dashboard:AllowedHosts:0: 'a b' is not a host name", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Router:Dashboard:AllowedHosts:1: 'http://x' is not a host name", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_AllowedHostsNotAList_Problem()
    {
        var problems = new List<string>();
        Read("""{ "Router": { "Dashboard": { "AllowedHosts": "mesh.example.org" } } }""", problems);

        Assert.Equal(["Router:Dashboard:AllowedHosts: must be a list of host names, not 'mesh.example.org'."], problems);
    }
}
