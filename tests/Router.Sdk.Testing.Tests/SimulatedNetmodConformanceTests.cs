using Router.Sdk.Testing.Conformance;

namespace Router.Sdk.Testing.Tests;

/// <summary>
/// The conformance suite against the link simulator's netmod on real time: the simulator is
/// what netmod authors and the router's own tests stand in for a real link, so it must keep
/// the contract the suite checks.
/// </summary>
public sealed class SimulatedNetmodConformanceTests : NetmodConformanceTests
{
    private readonly SimulatedNetwork _network = new(TimeProvider.System);

    protected override Netmod CreateNetmod(RouterAddress address) =>
        _network.CreateNetmod("sim", address, maxFrameSize: 1500);

    protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
        dialler.AddPeersAsync([((SimulatedNetmod)listener).Endpoint], cancellationToken);
}
