using Router.Sdk;
using Router.Sdk.Testing.Conformance;

namespace Router.Netmods.Udp.Tests;

/// <summary>The SDK's netmod conformance suite against the udp netmod on loopback, discovery off.</summary>
public sealed class ConformanceTests : NetmodConformanceTests
{
    protected override Netmod CreateNetmod(RouterAddress address) =>
        new UdpFactory().Create(Udp.Context(Udp.FastSettings(), address, new CapturingLoggerProvider()));

    protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
        dialler.AddPeersAsync([((UdpEndpoint)listener).ListenEndpoints[0].ToString()], cancellationToken);
}
