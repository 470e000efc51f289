using Router.Sdk;
using Router.Sdk.Testing;
using Router.Security;
using Router.Security.Links;

namespace Router.Tests.Security;

/// <summary>Network secrets and allow-lists, with whole router cores over simulated links.</summary>
[Collection(CpuHeavyCollection.Name)]
public sealed class ClosedNetworkTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 3);
    private readonly SecureMesh _mesh = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private static SecurityOptions Secret(string secret) => new() { NetworkSecret = secret, HandshakeTimeout = TimeSpan.FromSeconds(2) };

    [Fact]
    public async Task WrongNetworkSecret_CannotJoin_RightSecretCan()
    {
        SimulatedNetmod? hubToMember = null, hubToOutsider = null, member = null, outsider = null;
        var hub = await _mesh.StartAsync(x => hubToMember = _network.CreateNetmod("sim", x), Secret("the mesh secret, sixteen+ chars"));
        var hub2 = await _mesh.StartAsync(x => hubToOutsider = _network.CreateNetmod("sim", x), Secret("the mesh secret, sixteen+ chars"));
        var good = await _mesh.StartAsync(x => member = _network.CreateNetmod("sim", x), Secret("the mesh secret, sixteen+ chars"));
        var bad = await _mesh.StartAsync(x => outsider = _network.CreateNetmod("sim", x), Secret("another secret entirely, long"));
        _network.Link(hubToMember!, member!);
        _network.Link(hubToOutsider!, outsider!);

        await SecureMesh.WaitForAsync(() => SecureMesh.HasRoute(hub, good.Identity.Address), Limit, () => _mesh.Logs.Text);
        await SecureMesh.WaitForAsync(() => hub2.Get<LinkSecurityCounters>().Failures(HandshakeFailure.BadConfirmation) > 0, Limit, () => _mesh.Logs.Text);

        // The outsider's netmod link is up, but it never becomes a neighbour: no route, no frames used.
        await Task.Delay(500);
        Assert.False(SecureMesh.HasRoute(hub2, bad.Identity.Address));
        Assert.False(SecureMesh.HasRoute(bad, hub2.Identity.Address));
        Assert.Contains("different network secret", _mesh.Logs.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowList_AcceptsListedPeers_RefusesOthers()
    {
        using var friendIdentity = Router.Identity.RouterIdentity.Create();
        SimulatedNetmod? hub = null, friendLink = null, strangerLink = null;
        var policy = new PeerPolicy(false, new HashSet<RouterAddress> { friendIdentity.Address });
        var guarded = await _mesh.StartAsync(x => hub = _network.CreateNetmod("sim", x), new SecurityOptions { Peers = policy });
        var friend = await _mesh.StartAsync(x => friendLink = _network.CreateNetmod("sim", x), identity: friendIdentity);
        var stranger = await _mesh.StartAsync(x => strangerLink = _network.CreateNetmod("sim", x));

        // One netmod of the guarded router links to both (a hub: several neighbours on one netmod).
        _network.Link(hub!, friendLink!);
        _network.Link(hub!, strangerLink!);

        await SecureMesh.WaitForAsync(() => SecureMesh.HasRoute(guarded, friend.Identity.Address), Limit, () => _mesh.Logs.Text);
        await SecureMesh.WaitForAsync(() => guarded.Get<LinkSecurityCounters>().PeersRefused > 0, Limit, () => _mesh.Logs.Text);
        await Task.Delay(500);
        Assert.False(SecureMesh.HasRoute(guarded, stranger.Identity.Address));
        Assert.False(SecureMesh.HasRoute(stranger, guarded.Identity.Address));
        Assert.Contains("not in AllowedPeers", _mesh.Logs.Text, StringComparison.Ordinal);
    }
}
