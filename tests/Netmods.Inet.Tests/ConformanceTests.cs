using Router.Sdk;
using Router.Sdk.Testing.Conformance;

namespace Router.Netmods.Inet.Tests;

/// <summary>The SDK's netmod conformance suite against the inet netmod on loopback.</summary>
public sealed class ConformanceTests : NetmodConformanceTests
{
    protected override Netmod CreateNetmod(RouterAddress address) =>
        new InetFactory().Create(Inet.Context(Inet.FastSettings(), address, new CapturingLoggerProvider()));

    protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
        dialler.AddPeersAsync([((InetEndpoint)listener).Loopback()], cancellationToken);
}
