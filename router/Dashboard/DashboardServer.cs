using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Api;
using Router.Metrics;
using Router.Routing;

namespace Router.Dashboard;

/// <summary>
/// Serves the dashboard on its TCP address as a web application of its own, separate from the
/// control API's (which listens only on the owner-only Unix socket). Two reasons for a separate
/// application rather than a second listener on the API's: nothing the control API maps (send,
/// echo, messages, reload, ...) exists here at all, so no allow-list can go stale and expose it
/// over TCP; and a dashboard port that is taken costs only the dashboard — the router logs one
/// error and runs on, links and API unaffected. The dashboard's handlers read the core's live
/// state through the router's own singletons, registered here as the very same instances
/// (<see cref="ShareRouterServices"/>).
/// </summary>
internal sealed partial class DashboardServer : IHostedService, IAsyncDisposable
{
    private readonly DashboardOptions _options;
    private readonly IServiceProvider _router;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private WebApplication? _app;

    public DashboardServer(DashboardOptions options, IServiceProvider router, ILoggerFactory loggerFactory)
    {
        _options = options;
        _router = router;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<DashboardServer>();
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var app = Build();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // Address in use (or not this machine's): the router's job is its links, not this page.
            Log.CannotListen(_logger, _options.Listen.ToString(), e.Message);
            await app.DisposeAsync().ConfigureAwait(false);
            return;
        }

        _app = app;
        Log.Listening(_logger, $"http://{_options.Listen}/");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.Sources.Clear();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(_options.Listen, listen => listen.Protocols = HttpProtocols.Http1);

            // Read-only GETs: nothing reads a body, so only a small one is drained; a handful of tabs is the expected load.
            kestrel.Limits.MaxRequestBodySize = 4096;
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(5));
        ShareRouterServices(builder.Services);
        builder.Services.AddSingleton(_options);
        builder.Services.AddSingleton(new DashboardHosts(_options));
        builder.Services.AddSingleton<DashboardState>();

        var app = builder.Build();
        DashboardEndpoints.Map(app);
        return app;
    }

    /// <summary>
    /// Registers what the handlers read — status, routing, metrics, the clock, the log — as the
    /// router's own instances, so they see the live core. Registered as instances, not factories:
    /// this application never disposes them; the router's host owns them.
    /// </summary>
    private void ShareRouterServices(IServiceCollection services)
    {
        services.AddSingleton(_loggerFactory);
        services.AddSingleton(_router.GetRequiredService<TimeProvider>());
        services.AddSingleton(_router.GetRequiredService<RouterStatus>());
        services.AddSingleton(_router.GetRequiredService<RoutingService>());
        services.AddSingleton(_router.GetRequiredService<RouterMetrics>());
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Information, Message = "Dashboard on {Url}")]
        public static partial void Listening(ILogger logger, string url);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Error, Message = "Dashboard cannot listen on {Listen}: {Reason}; the router runs without it (set Router:Dashboard:Listen to a free address, or Router:Dashboard:Enabled to false)")]
        public static partial void CannotListen(ILogger logger, string listen, string reason);
    }
}

/// <summary>Registration of the dashboard in the router's host.</summary>
internal static class DashboardServices
{
    /// <summary>Adds the dashboard (when enabled) as a hosted service that starts after the core and stops before it.</summary>
    public static IServiceCollection AddDashboard(this IServiceCollection services, DashboardOptions options)
    {
        if (options.Enabled)
        {
            services.AddSingleton(sp => new DashboardServer(options, sp, sp.GetRequiredService<ILoggerFactory>()));
            services.AddHostedService(sp => sp.GetRequiredService<DashboardServer>());
        }

        return services;
    }
}
