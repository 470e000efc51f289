using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Configuration;
using Router.Identity;
using Router.Plugins;

namespace Router.Hosting;

/// <summary>
/// One router core running inside the current process, without the API server: the same
/// services as the <c>router</c> process (<see cref="RouterCoreServices"/>), started and
/// stopped in the same order. Lets tests run many routers in one process over in-memory links.
/// </summary>
internal sealed class RouterNode : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly IHostedService[] _hosted;
    private bool _started;

    public RouterNode(RouterIdentity identity, RouterOptions options, IReadOnlyList<NetmodPlugin> netmods, RouterConfiguration configuration, ILoggerFactory loggerFactory, TimeProvider time)
    {
        Identity = identity;
        _services = new ServiceCollection()
            .AddRouterCore(configuration, options, identity, new EnabledNetmods(netmods), loggerFactory, time)
            .BuildServiceProvider();
        _hosted = _services.GetServices<IHostedService>().ToArray();
    }

    public RouterIdentity Identity { get; }

    public T Get<T>() where T : notnull => _services.GetRequiredService<T>();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _started = true;
        foreach (var service in _hosted)
        {
            await service.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_started)
        {
            foreach (var service in _hosted.Reverse())
            {
                await service.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
