using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Router.Api;
using Router.Configuration;
using Router.Identity;
using Router.Overlay;
using Router.Routing;
using Router.Security.Links;
using Router.Security.Sessions;
using Router.Switching;

namespace Router.Hosting;

/// <summary>
/// The router core as services: route table, routing, switch, local delivery, the IP packet
/// gateway, netmods. One
/// registration used by the <c>router</c> process (with the API on top) and by
/// <see cref="RouterNode"/>, which runs routers inside one process for tests.
/// Hosted services start in registration order and stop in reverse: routing first (its
/// engine must exist when neighbours come up), then the link guard (it authenticates
/// neighbours before routing hears of them), netmods last; netmods stop first.
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
        services.AddSingleton(options.Security);
        services.AddSingleton<LinkSecurityCounters>();
        services.AddSingleton<LinkTable>();
        services.AddSingleton<LinkGuard>();
        services.AddSingleton<RouteTable>();
        services.AddSingleton(sp => new PrefixTable(identity.Address, sp.GetRequiredService<ILogger<PrefixTable>>()));
        services.AddSingleton<NeighbourTable>();
        services.AddSingleton(options.Routing);
        services.AddSingleton<RoutingService>();
        services.AddSingleton<SwitchCounters>();
        services.AddSingleton<NetmodSet>();
        services.AddSingleton(_ => new FloodFilter(capacity: 65_536));
        services.AddSingleton(_ => new Inbox(options.InboxMessages));
        services.AddSingleton<SessionCounters>();
        services.AddSingleton(sp => new SessionService(
            identity,
            options.Sessions,
            sp.GetRequiredService<SessionCounters>(),
            time,
            sp.GetRequiredService<ILogger<SessionService>>(),
            // Resolved when the first handshake frame goes out: the sender needs the sessions (through LocalDelivery), so it cannot be a constructor argument.
            (kind, destination, payload, cancellationToken) =>
            {
                var sender = sp.GetRequiredService<MessageSender>();
                return sender.SendFrameAsync(kind, destination, sender.NextMessageId(), payload, options.HopLimit, cancellationToken);
            }));
        services.AddSingleton(sp => new LocalDelivery(
            sp.GetRequiredService<Inbox>(),
            sp.GetRequiredService<SessionService>(),
            options.ReassemblyBufferBytes,
            options.ReassemblyBytesPerSource,
            options.ReassemblyTimeout,
            time,
            sp.GetRequiredService<ILogger<LocalDelivery>>(),
            sp.GetRequiredService<PacketGateway>()));
        services.AddSingleton<OverlayCounters>();
        services.AddSingleton(sp => new PacketGateway(
            identity.Address,
            sp.GetRequiredService<RouteTable>(),
            sp.GetRequiredService<PrefixTable>(),
            sp.GetRequiredService<SessionService>(),
            sp.GetRequiredService<RoutingService>(),
            options.HopLimit,
            sp.GetRequiredService<OverlayCounters>(),
            sp.GetRequiredService<ILogger<PacketGateway>>()));
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
            options.MaxMessageBytes + SessionService.MaxWireOverhead, // messages are sealed or signed on the wire
            sp.GetRequiredService<SwitchCounters>(),
            sp.GetRequiredService<LinkTable>(),
            sp.GetRequiredService<LinkGuard>()));
        services.AddSingleton<NetmodHost>();
        services.AddSingleton<Plugins.PluginLoader>();
        services.AddSingleton<ConfigReloader>();
        services.AddSingleton<PluginControl>();
        services.AddSingleton<RouterStatus>();
        services.AddHostedService(sp => sp.GetRequiredService<RoutingService>());
        services.AddHostedService(sp => sp.GetRequiredService<LinkGuard>());
        services.AddHostedService(sp => sp.GetRequiredService<NetmodHost>());
        return services;
    }
}
