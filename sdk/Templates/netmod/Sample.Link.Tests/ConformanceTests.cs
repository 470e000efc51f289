using Router.Sdk;
using Router.Sdk.Testing;
using Router.Sdk.Testing.Conformance;

namespace Sample.Link.Tests;

/// <summary>
/// The SDK's conformance suite against this netmod: two instances on loopback, each on a free
/// port, with quick hellos so a stopped neighbour is noticed within a second or two.
/// </summary>
public sealed class ConformanceTests : NetmodConformanceTests
{
    protected override Netmod CreateNetmod(RouterAddress address) =>
        new SampleLinkFactory().Create(NetmodTestContext.Create(
            SampleLinkFactory.NetmodName,
            new Dictionary<string, string?>
            {
                ["Listen"] = "127.0.0.1:0",
                ["HelloSeconds"] = "0.2",
                ["DeadPeerSeconds"] = "1.5",
            },
            address,
            new CapturingLoggerProvider()));

    protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
        dialler.AddPeersAsync([((SampleLinkNetmod)listener).LocalEndpoint!.ToString()], cancellationToken);
}
