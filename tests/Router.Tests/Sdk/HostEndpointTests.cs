using Router.Sdk;

namespace Router.Tests.Sdk;

public class HostEndpointTests
{
    [Theory]
    [InlineData("127.0.0.1:5860", "127.0.0.1", 5860)]
    [InlineData("[::1]:5860", "::1", 5860)]
    [InlineData("[::]:0", "::", 0)]
    [InlineData("router.example:80", "router.example", 80)]
    [InlineData("localhost:65535", "localhost", 65535)]
    public void TryParse_Valid_ParsesHostAndPort(string text, string host, int port)
    {
        Assert.True(HostEndpoint.TryParse(text, allowPortZero: true, out var endpoint, out var error), error);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(text, endpoint.ToString());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("host", "no port")]
    [InlineData("::1:5860", "brackets")]
    [InlineData("[::1]5860", "[v6]:port")]
    [InlineData("[1.2.3.4]:80", "not an IPv6")]
    [InlineData("host:70000", "not a port")]
    [InlineData("host:-1", "not a port")]
    [InlineData("bad host:80", "not a host")]
    public void TryParse_Malformed_SaysWhy(string text, string reason)
    {
        Assert.False(HostEndpoint.TryParse(text, allowPortZero: false, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_PortZeroWhenNotAllowed_Fails() =>
        Assert.False(HostEndpoint.TryParse("127.0.0.1:0", allowPortZero: false, out _, out _));

    [Fact]
    public void ParsePeers_AllValid_ReturnsThemInOrder() =>
        Assert.Equal(
            [new HostEndpoint("a.example", 1), new HostEndpoint("::1", 2)],
            HostEndpoint.ParsePeers(["a.example:1", "[::1]:2"], "demo"));

    [Fact]
    public void ParsePeers_SomeMalformed_ThrowsListingEachByIndex()
    {
        var error = Assert.Throws<ArgumentException>(() => HostEndpoint.ParsePeers(["a.example:1", "nope", "b.example:0"], "demo"));

        Assert.Equal("peers", error.ParamName);
        Assert.StartsWith("2 demo peer(s) are malformed, so none were added: peers[1]: 'nope' has no port", error.Message, StringComparison.Ordinal);
        Assert.Contains("; peers[2]: '0' in 'b.example:0' is not a port (1-65535).", error.Message, StringComparison.Ordinal);
    }
}
