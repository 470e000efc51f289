using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Router.Api;
using Router.Configuration;
using Router.Identity;
using Router.Routing;
using Router.Switching;

namespace Router.Hosting;

/// <summary>
/// The router core as services: route table, routing, switch, local delivery, netmods. One
/// registration used by the <c>router</c> process (with the API on top) and by
/// <see cref="RouterNode"/>, which runs routers inside one process for tests.
/// Hosted services start in registration order and stop in reverse: routing first (its
/// engine must exist when neighbours come up), netmods last; netmods stop first.
/// </summary>
internal static class RouterCoreServices
{
    public static IServiceCollection AddRouterCore(
        this IServiceCollection services,
        RouterConfiguration configuration,
        RouterOptions options,
        RouterIdentity identity,
        EnabledNetmods enabled,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        services.AddSingleton(loggerFactory);
        services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        services.AddSingleton(time);
        services.AddSingleton(configuration);
        services.AddSingleton(options);
        services.AddSingleton(identity);
        services.AddSingleton(enabled);
        services.AddSingleton<RouteTable>();
        services.AddSingleton<NeighbourTable>();
        services.AddSingleton(options.Routing);
        services.AddSingleton<RoutingService>();
        services.AddSingleton<SwitchCounters>();
        services.AddSingleton<NetmodSet>();
        services.AddSingleton(_ => new FloodFilter(capacity: 65_536));
        services.AddSingleton(_ => new Inbox(options.InboxMessages));
        services.AddSingleton(sp => new LocalDelivery(
            sp.GetRequiredService<Inbox>(),
            options.ReassemblyBufferBytes,
            options.ReassemblyTimeout,
            time,
            sp.GetRequiredService<ILogger<LocalDelivery>>()));
        services.AddSingleton(sp => new MessageSender(
            identity.Address,
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<LocalDelivery>(),
            options.MaxMessageBytes,
            options.HopLimit,
            sp.GetRequiredService<FloodFilter>(),
            sp.GetRequiredService<NetmodSet>()));
        services.AddSingleton(sp => new EchoService(identity.Address, sp.GetRequiredService<MessageSender>(), time));
        services.AddSingleton(sp => new Switch(
            identity.Address,
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<LocalDelivery>(),
            sp.GetRequiredService<RoutingService>(),
            sp.GetRequiredService<EchoService>(),
            sp.GetRequiredService<FloodFilter>(),
            sp.GetRequiredService<NetmodSet>(),
            options.MaxMessageBytes,
            sp.GetRequiredService<SwitchCounters>()));
        services.AddSingleton<NetmodHost>();
        services.AddSingleton<RouterStatus>();
        services.AddHostedService(sp => sp.GetRequiredService<RoutingService>());
        services.AddHostedService(sp => sp.GetRequiredService<NetmodHost>());
        return services;
    }
}
