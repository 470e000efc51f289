using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Router.Sdk.Testing;
using Router.Tests.Security;

namespace Router.Tests.Hosting;

/// <summary>Runs alone: it counts the exceptions of the whole process.</summary>
[CollectionDefinition(nameof(IdleRouterTests), DisableParallelization = true)]
public sealed class IdleRouterCollection;

/// <summary>What linked routers do while no traffic flows.</summary>
[Collection(nameof(IdleRouterTests))]
public sealed class IdleRouterTests : IAsyncLifetime
{
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 5);
    private readonly SecureMesh _mesh = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    [Fact]
    public async Task LinkedRouters_RunTheirTimers_WithoutThrowingExceptions()
    {
        // The routing loop (hellos every 100 ms here, updates, housekeeping) and the link guard
        // (a tick every 250 ms) wake many times a second. A wake that cancels a wait throws and
        // catches an OperationCanceledException each time: tens of microseconds of CPU and a
        // burst of cache misses on an idle machine, and the latency of the next packet with it.
        SimulatedNetmod? a = null, b = null;
        var first = await _mesh.StartAsync(x => a = _network.CreateNetmod("sim", x));
        var second = await _mesh.StartAsync(x => b = _network.CreateNetmod("sim", x));
        _network.Link(a!, b!);
        await SecureMesh.WaitForAsync(() => SecureMesh.HasRoute(first, second.Identity.Address) && SecureMesh.HasRoute(second, first.Identity.Address), TimeSpan.FromSeconds(15), () => _mesh.Logs.Text);

        var thrown = new ConcurrentQueue<string>();
        void Count(object? sender, FirstChanceExceptionEventArgs e) => thrown.Enqueue($"{e.Exception.GetType().Name}: {e.Exception.StackTrace}");
        AppDomain.CurrentDomain.FirstChanceException += Count;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Count;
        }

        Assert.True(SecureMesh.HasRoute(first, second.Identity.Address), "the routers stayed linked");
        Assert.True(thrown.IsEmpty, $"{thrown.Count} exceptions in 2 s of idle:\n{string.Join("\n", thrown.Take(5))}");
    }
}
