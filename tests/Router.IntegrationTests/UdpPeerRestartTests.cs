namespace Router.IntegrationTests;

/// <summary>
/// A udp peer that restarts before its neighbour's link times out: udp has no connection to
/// break, so the neighbour's netmod keeps the link. The restarted router's new link handshake
/// is what tells the neighbour, which then meets it afresh (new keys, routing from scratch)
/// instead of judging its new hello counters against the old ones.
/// </summary>
public sealed class UdpPeerRestartTests : IAsyncLifetime
{
    private const string FastRouting = """, "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2""";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private readonly TestMesh _mesh = new();
    private RouterProcess _a = null!;
    private RouterProcess _b = null!;

    public async Task InitializeAsync()
    {
        // A long dead-peer timeout: A's udp link must outlive B's restart, however slow the machine.
        var portA = TestMesh.FreePort();
        var portB = TestMesh.FreePort();
        _a = new RouterProcess(_mesh.Config("a", portA, routerExtra: FastRouting, netmod: "udp", deadPeerSeconds: 60));
        _b = new RouterProcess(_mesh.Config("b", portB, peerPorts: [portA], routerExtra: FastRouting, netmod: "udp", deadPeerSeconds: 60));
        await _a.StartAsync();
        await _b.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }

        if (_a is not null)
        {
            await _a.DisposeAsync();
        }

        _mesh.Dispose();
    }

    [Fact]
    public async Task PeerRestartsWithinTheLinkTimeout_IsAuthenticatedAgain_AndRoutesStay()
    {
        var a = await _a.AddressAsync();
        var b = await _b.AddressAsync();
        await RouterProcess.WaitForAsync(() => _a.HasRouteAsync(b), Limit, "A's route to B");
        await RouterProcess.WaitForAsync(() => _b.HasRouteAsync(a), Limit, "B's route to A");
        Assert.Equal(0, await RenewedAsync(_a));

        await _b.StopAsync();
        await _b.StartAsync();

        // A's link to B never went down; B's new handshake renews it, and routing starts over.
        await RouterProcess.WaitForAsync(async () => await RenewedAsync(_a) == 1, Limit, "A to renew its link to B");
        Assert.Contains("authenticated again with new keys: the neighbour started over", _a.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("udp link down", _a.Output, StringComparison.Ordinal);
        await RouterProcess.WaitForAsync(() => _a.HasRouteAsync(b), Limit, "A's route to B to return");
        await RouterProcess.WaitForAsync(() => _b.HasRouteAsync(a), Limit, "B's route to A to return");

        // And stays: B's hellos, counting from 0 again, are not taken for old ones.
        for (var i = 0; i < 8; i++)
        {
            var ping = await Cli.RunAsync("ping", b, "--api", _a.ApiSocket, "--count", "1");
            Assert.True(ping.ExitCode == 0, $"ping {i}: {ping.Stdout}{ping.Stderr}\nA's log:\n{_a.Output}");
            await Task.Delay(250);
        }

        Assert.DoesNotContain("abandoned", _a.Output + _b.Output, StringComparison.Ordinal);
    }

    private static async Task<long> RenewedAsync(RouterProcess router) =>
        (await router.StatusAsync()).GetProperty("counters").GetProperty("security").GetProperty("links").GetProperty("linksRenewed").GetInt64();
}
