using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Configuration;
using Router.Identity;
using Router.Overlay;
using Router.Plugins;
using Router.Routing;
using Router.Sdk;
using Router.Security.Links;
using Router.Switching;

namespace Router.Hosting;

/// <summary>
/// Creates and starts the enabled netmods, runs a switch loop and a neighbour-event loop for
/// each (neighbour events go to the <see cref="LinkGuard"/>, which tells routing once a link
/// has authenticated), and stops them on shutdown. A <see cref="LinkKind.Local"/> netmod (the
/// machine's IP interface) has no neighbours: its packets go to the <see cref="PacketGateway"/>
/// instead of the switch. A netmod that fails to be created or started is reported and left
/// out; the router runs with the rest.
/// </summary>
internal sealed partial class NetmodHost : IHostedService
{
    /// <summary>
    /// Frames must fit at least a header and a useful payload, and every control frame: a
    /// signed route update (80 + 2 + 194 bytes) with its 24-byte link seal, or a link handshake
    /// (80 + 319 bytes).
    /// </summary>
    public const int MinimumFrameSize = 512;

    private readonly IReadOnlyList<NetmodPlugin> _enabled;
    private readonly RouterConfiguration _configuration;
    private readonly RouterIdentity _identity;
    private readonly Switch _switch;
    private readonly NeighbourTable _neighbours;
    private readonly LinkGuard _guard;
    private readonly NetmodSet _running;
    private readonly PacketGateway _gateway;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly List<NetmodInstance> _instances = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stopping = new();

    public NetmodHost(
        EnabledNetmods enabled,
        RouterConfiguration configuration,
        RouterIdentity identity,
        Switch @switch,
        NeighbourTable neighbours,
        LinkGuard guard,
        NetmodSet running,
        PacketGateway gateway,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        _gateway = gateway;
        _enabled = enabled.Plugins;
        _configuration = configuration;
        _identity = identity;
        _switch = @switch;
        _neighbours = neighbours;
        _guard = guard;
        _running = running;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<NetmodHost>();
        _time = time;
    }

    /// <summary>Every netmod the host tried to run, in configuration order, with its state.</summary>
    public IReadOnlyList<NetmodInstance> Instances
    {
        get
        {
            lock (_instances)
            {
                return [.. _instances];
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_enabled.Select(plugin => StartNetmodAsync(plugin, cancellationToken))).ConfigureAwait(false);
    }

    private async Task StartNetmodAsync(NetmodPlugin plugin, CancellationToken cancellationToken)
    {
        Netmod netmod;
        try
        {
            var context = new NetmodContext(
                plugin.Name,
                _identity.Address,
                _configuration.NetmodSettings(plugin.Name),
                _configuration.Directory,
                _loggerFactory,
                _time);
            netmod = plugin.Factory.Create(context);
        }
        catch (Exception e)
        {
            Log.NetmodFailed(_logger, plugin.Name, "could not be created", e.Message);
            return;
        }

        var instance = new NetmodInstance(plugin, netmod);
        lock (_instances)
        {
            _instances.Add(instance);
        }

        if (instance.MaxFrameSize < MinimumFrameSize)
        {
            instance.MarkFailed($"its maximum frame size {instance.MaxFrameSize} is below the minimum of {MinimumFrameSize} bytes");
            Log.NetmodFailed(_logger, plugin.Name, "is unusable", instance.Error!);
            return;
        }

        var local = instance.Capabilities.Kind == LinkKind.Local;

        // Loops start before the netmod so no event or frame waits on a full channel.
        lock (_loops)
        {
            _loops.Add(local
                ? Task.Run(() => _gateway.RunAsync(instance, _stopping.Token), CancellationToken.None)
                : Task.Run(() => _switch.RunAsync(instance, _stopping.Token), CancellationToken.None));
            _loops.Add(Task.Run(() => RunNeighbourEventsAsync(instance, _stopping.Token), CancellationToken.None));
        }

        try
        {
            await netmod.StartAsync(cancellationToken).ConfigureAwait(false);
            if (local && await _gateway.AttachAsync(instance, cancellationToken).ConfigureAwait(false) is { } refused)
            {
                instance.MarkFailed(refused);
                Log.NetmodFailed(_logger, plugin.Name, "is unusable", refused);
                await StopQuietlyAsync(instance, CancellationToken.None).ConfigureAwait(false);
                return;
            }

            instance.MarkRunning();
            if (!local)
            {
                // Floods go to every running link netmod; an IP interface is not a link.
                _running.Add(instance);
            }

            Log.NetmodStarted(_logger, plugin.Name, instance.MaxFrameSize);
        }
        catch (Exception e)
        {
            instance.MarkFailed(e.Message);
            Log.NetmodFailed(_logger, plugin.Name, "failed to start", e.Message);
            await StopQuietlyAsync(instance, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RunNeighbourEventsAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in instance.Netmod.NeighbourEvents.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _neighbours.Apply(instance, e);
                await _guard.PostAsync(instance, e, cancellationToken).ConfigureAwait(false);
                var address = e.Address.IsNone ? "(unknown)" : e.Address.ToString();
                if (e.Kind == NeighbourEventKind.Up)
                {
                    Log.NeighbourUp(_logger, address, instance.Name, e.RemoteEndpoint);
                }
                else
                {
                    Log.NeighbourDown(_logger, address, instance.Name, e.RemoteEndpoint);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.NetmodFailed(_logger, instance.Name, "neighbour events failed", e.Message);
        }
        finally
        {
            _neighbours.RemoveNetmod(instance);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(Instances.Select(i => StopQuietlyAsync(i, cancellationToken))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] loops;
        lock (_loops)
        {
            loops = [.. _loops];
        }

        await Task.WhenAll(loops).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task StopQuietlyAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        _running.Remove(instance);
        await _gateway.DetachAsync(instance, cancellationToken).ConfigureAwait(false);
        try
        {
            await instance.Netmod.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.NetmodFailed(_logger, instance.Name, "failed to stop cleanly", e.Message);
        }

        if (instance.State != NetmodState.Failed)
        {
            instance.MarkStopped();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Netmod '{Name}' started (max frame {MaxFrameSize} bytes)")]
        public static partial void NetmodStarted(ILogger logger, string name, int maxFrameSize);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Netmod '{Name}' {What}: {Reason}; the router continues without it")]
        public static partial void NetmodFailed(ILogger logger, string name, string what, string reason);

        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Neighbour up: {Address} via {Netmod} ({Endpoint})")]
        public static partial void NeighbourUp(ILogger logger, string address, string netmod, string endpoint);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Neighbour down: {Address} via {Netmod} ({Endpoint})")]
        public static partial void NeighbourDown(ILogger logger, string address, string netmod, string endpoint);
    }
}

/// <summary>The plugins of the netmods the configuration enables, resolved at start-up.</summary>
internal sealed record EnabledNetmods(IReadOnlyList<NetmodPlugin> Plugins);
