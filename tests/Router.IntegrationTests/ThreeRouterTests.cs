using System.Security.Cryptography;
using System.Text.Json;

namespace Router.IntegrationTests;

/// <summary>
/// Three real routers in a line, A — B — C, linked by one netmod on loopback (A and C are not
/// linked): traffic from A reaches C through B, and routes follow B going away and returning.
/// </summary>
public abstract class ThreeRouterTests(string netmod) : IAsyncLifetime
{
    private const string FastRouting = """, "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2""";
    private readonly TestMesh _mesh = new();
    private RouterProcess _a = null!;
    private RouterProcess _b = null!;
    private RouterProcess _c = null!;

    public async Task InitializeAsync()
    {
        var portA = TestMesh.FreePort();
        var portB = TestMesh.FreePort();
        var portC = TestMesh.FreePort();
        _a = new RouterProcess(_mesh.Config("a", portA, routerExtra: FastRouting, netmod: netmod));
        _b = new RouterProcess(_mesh.Config("b", portB, peerPorts: [portA], routerExtra: FastRouting, netmod: netmod));
        _c = new RouterProcess(_mesh.Config("c", portC, peerPorts: [portB], routerExtra: FastRouting, netmod: netmod));
        await Task.WhenAll(_a.StartAsync(), _b.StartAsync(), _c.StartAsync());
    }

    public async Task DisposeAsync()
    {
        // Fields are null when InitializeAsync failed part way: stop whatever did start.
        if (_c is not null)
        {
            await _c.DisposeAsync();
        }

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
    public async Task Line_TrafficCrossesTheMiddleRouter_AndRoutesFollowItsOutageAndReturn()
    {
        var a = await _a.AddressAsync();
        var b = await _b.AddressAsync();
        var c = await _c.AddressAsync();
        var limit = TimeSpan.FromSeconds(20);
        await WaitAsync(() => _a.HasRouteAsync(c), limit, "A's route to C");
        await WaitAsync(() => _c.HasRouteAsync(a), limit, "C's route to A");

        var routeToC = (await _a.RoutesAsync()).Single(r => r.GetProperty("destination").GetString() == c);
        Assert.Equal(b, routeToC.GetProperty("nextHop").GetString());
        Assert.Equal(netmod, routeToC.GetProperty("netmod").GetString());

        // traceroute shows B, then C.
        var trace = await Cli.RunAsync("traceroute", c, "--api", _a.ApiSocket, "--json");
        Assert.True(trace.ExitCode == 0, trace.Stdout + trace.Stderr + Logs());
        var hops = JsonDocument.Parse(trace.Stdout).RootElement.EnumerateArray().ToArray();
        Assert.Equal(2, hops.Length);
        Assert.Equal(("hopLimitExceeded", b), (hops[0].GetProperty("result").GetString(), hops[0].GetProperty("from").GetString()));
        Assert.Equal(("reply", c), (hops[1].GetProperty("result").GetString(), hops[1].GetProperty("from").GetString()));

        var table = await Cli.RunAsync("traceroute", c, "--api", _a.ApiSocket);
        Assert.Contains($" 1  {b}", table.Stdout, StringComparison.Ordinal);
        Assert.Contains($" 2  {c}", table.Stdout, StringComparison.Ordinal);

        var ping = await Cli.RunAsync("ping", c, "--api", _a.ApiSocket, "--count", "3", "--interval", "0.1");
        Assert.True(ping.ExitCode == 0, ping.Stdout + ping.Stderr + Logs());
        Assert.Contains("3 sent, 3 received, 0% loss", ping.Stdout, StringComparison.Ordinal);

        // 1 MB from A to C, through B.
        var file = Path.Combine(_mesh.Root, "payload.bin");
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        await File.WriteAllBytesAsync(file, payload);
        var received = Path.Combine(_mesh.Root, "received.bin");
        await Transfer.FileAsync(file, received, from: _a, to: _c, c);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(await File.ReadAllBytesAsync(received)));
        var forwarded = (await _b.StatusAsync()).GetProperty("counters").GetProperty("framesForwarded").GetInt64();
        Assert.True(forwarded >= 8, $"B forwarded only {forwarded} frames");

        // B goes away: A's route to C disappears. B returns: it comes back by itself.
        await _b.StopAsync();
        await WaitAsync(async () => !await _a.HasRouteAsync(c), limit, "A's route to C to disappear");
        var unreachable = await Cli.RunAsync("ping", c, "--api", _a.ApiSocket, "--count", "1");
        Assert.True(unreachable.ExitCode == 1, unreachable.Stdout + unreachable.Stderr + Logs());
        Assert.Contains("no route", unreachable.Stdout, StringComparison.Ordinal);

        await _b.StartAsync();
        await WaitAsync(() => _a.HasRouteAsync(c), limit, "A's route to C to return");
        await WaitAsync(() => _c.HasRouteAsync(a), limit, "C's route to A to return");
        var again = await Cli.RunAsync("ping", c, "--api", _a.ApiSocket, "--count", "1");
        Assert.True(again.ExitCode == 0, again.Stdout + again.Stderr + Logs());
    }

    /// <summary>Waits like <see cref="RouterProcess.WaitForAsync(Func{Task{bool}}, TimeSpan, string)"/>; a timeout carries the logs.</summary>
    private async Task WaitAsync(Func<Task<bool>> condition, TimeSpan limit, string what)
    {
        try
        {
            await RouterProcess.WaitForAsync(condition, limit, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + Logs(), e);
        }
    }

    /// <summary>The three routers' logs, for a failure message: what a CI failure needs to be understood.</summary>
    private string Logs() => $"\n--- router a:\n{_a.Output}\n--- router b:\n{_b.Output}\n--- router c:\n{_c.Output}";
}

public sealed class ThreeRoutersOverInet() : ThreeRouterTests("inet");

public sealed class ThreeRoutersOverUdp() : ThreeRouterTests("udp");
