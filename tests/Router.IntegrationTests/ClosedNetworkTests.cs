namespace Router.IntegrationTests;

/// <summary>
/// A closed network with real processes: router A has a network secret and an allow-list
/// naming B and C. B (same secret, listed) becomes A's neighbour; C (listed, another secret)
/// and D (the secret, not listed) never do, and A's status and log say why.
/// </summary>
public sealed class ClosedNetworkTests : IAsyncLifetime
{
    private const string Secret = "correct horse battery staple 42";
    private const string Fast = """, "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2, "HandshakeTimeoutSeconds": 2""";
    private readonly TestMesh _mesh = new();
    private readonly List<RouterProcess> _routers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var router in _routers)
        {
            await router.DisposeAsync();
        }

        _mesh.Dispose();
    }

    private async Task<RouterProcess> StartAsync(string name, int port, int[] peers, string routerExtra)
    {
        var router = new RouterProcess(_mesh.Config(name, port, peerPorts: peers, routerExtra: Fast + routerExtra));
        _routers.Add(router);
        await router.StartAsync();
        return router;
    }

    [Fact]
    public async Task SecretAndAllowList_AdmitTheListedRouterWithTheSecret_AndNoOneElse()
    {
        var portA = TestMesh.FreePort();
        var b = await StartAsync("b", TestMesh.FreePort(), [portA], $$""", "NetworkSecret": "{{Secret}}" """);
        var c = await StartAsync("c", TestMesh.FreePort(), [portA], """, "NetworkSecret": "some other secret, long enough" """);
        var d = await StartAsync("d", TestMesh.FreePort(), [portA], $$""", "NetworkSecret": "{{Secret}}" """);
        var (addressB, addressC, addressD) = (await b.AddressAsync(), await c.AddressAsync(), await d.AddressAsync());
        var a = await StartAsync("a", portA, [], $$""", "NetworkSecret": "{{Secret}}", "AcceptUnknownPeers": false, "AllowedPeers": ["{{addressB}}", "{{addressC}}"] """);

        var limit = TimeSpan.FromSeconds(20);
        await RouterProcess.WaitForAsync(() => a.HasRouteAsync(addressB), limit, "A's route to B");
        try
        {
            await RouterProcess.WaitForAsync(
                async () =>
                {
                    var security = (await a.StatusAsync()).GetProperty("counters").GetProperty("security").GetProperty("links");
                    return security.GetProperty("handshakeBadConfirmation").GetInt64() > 0 && security.GetProperty("peersRefused").GetInt64() > 0;
                },
                limit,
                "A to count C's bad key confirmation and D's refusal");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\nA's status: {await a.StatusAsync()}\nA's log:\n{a.Output}", e);
        }

        Assert.False(await a.HasRouteAsync(addressC));
        Assert.False(await a.HasRouteAsync(addressD));
        Assert.False(await c.HasRouteAsync(await a.AddressAsync()));
        Assert.False(await d.HasRouteAsync(await a.AddressAsync()));

        var peers = (await a.StatusAsync()).GetProperty("peers").EnumerateArray()
            .Where(p => p.GetProperty("address").GetString() is { } address && address == addressD)
            .Select(p => p.GetProperty("link").GetString()).ToList();
        Assert.Contains("refused", peers);
        Assert.Contains("different network secret", a.Output, StringComparison.Ordinal);
        Assert.Contains("not in AllowedPeers", a.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShortNetworkSecret_IsAConfigurationError()
    {
        var router = new RouterProcess(_mesh.Config("short", TestMesh.FreePort(), routerExtra: """, "NetworkSecret": "short" """));
        _routers.Add(router);
        Assert.Equal(1, await router.RunToExitAsync("--check"));
        Assert.Contains("Router:NetworkSecret: too short", router.Output, StringComparison.Ordinal);
    }
}
