using System.Net;
using Microsoft.AspNetCore.Http;
using Router.Dashboard;

namespace Router.Tests.Dashboard;

public sealed class DashboardHostsTests
{
    private static DashboardHosts Hosts(string listen, params string[] allowed) =>
        new(new DashboardOptions { Listen = IPEndPoint.Parse(listen), AllowedHosts = allowed });

    [Theory]
    [InlineData("127.0.0.1:5880")]
    [InlineData("127.0.0.1")]
    [InlineData("localhost:5880")]
    [InlineData("LOCALHOST")]
    [InlineData("[::1]:5880")]
    [InlineData("127.0.0.2:5880")]
    [InlineData("127.0.0.1:8080")]
    public void IsAllowed_LoopbackListenOwnNames_True(string host) =>
        Assert.True(Hosts("127.0.0.1:5880").IsAllowed(new HostString(host)));

    [Theory]
    [InlineData("")]
    [InlineData("evil.example")]
    [InlineData("evil.example:5880")]
    [InlineData("localhost.evil.example")]
    [InlineData("127.0.0.1.nip.io")]
    [InlineData("192.168.1.10:5880")]
    public void IsAllowed_LoopbackListenForeignNames_False(string host) =>
        Assert.False(Hosts("127.0.0.1:5880").IsAllowed(new HostString(host)));

    [Fact]
    public void IsAllowed_SpecificAddress_OnlyThatAddressAndAllowedNames()
    {
        var hosts = Hosts("192.168.1.10:5880", "mesh.example.org");

        Assert.True(hosts.IsAllowed(new HostString("192.168.1.10:5880")));
        Assert.True(hosts.IsAllowed(new HostString("Mesh.Example.org:5880")));
        Assert.False(hosts.IsAllowed(new HostString("localhost:5880")));
        Assert.False(hosts.IsAllowed(new HostString("192.168.1.11:5880")));
        Assert.False(hosts.IsAllowed(new HostString("other.example.org")));
    }

    [Fact]
    public void IsAllowed_EveryAddress_AnyIpLiteralAndLocalhostButNoOtherName()
    {
        var hosts = Hosts("[::]:5880");

        Assert.True(hosts.IsAllowed(new HostString("10.0.0.1:5880")));
        Assert.True(hosts.IsAllowed(new HostString("[2001:db8::1]:5880")));
        Assert.True(hosts.IsAllowed(new HostString("localhost:5880")));
        Assert.False(hosts.IsAllowed(new HostString("router.example.org:5880")));
    }
}
