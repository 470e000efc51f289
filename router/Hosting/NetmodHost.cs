using System.Runtime.CompilerServices;
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
/// <remarks>
/// Netmods can also be started and stopped one at a time while the router runs (a reload, or
/// <c>router plugins load/unload</c>): the switch, routing and the other netmods carry on.
/// Such changes take <see cref="ChangeGate"/> so two of them never interleave. A stopped
/// netmod reports its neighbours down (so routing withdraws them), its loops end (giving
/// queued frames back to the pool), and it leaves <see cref="Instances"/>, dropping the
/// host's references to it and its plugin.
/// </remarks>
internal sealed partial class NetmodHost : IHostedService
{
    /// <summary>
    /// Frames must fit at least a header and a useful payload, and every control frame: a
    /// signed route update (80 + 2 + 194 bytes) with its 24-byte link seal, or a link handshake
    /// (80 + 319 bytes).
    /// </summary>
    public const int MinimumFrameSize = 512;

    private static readonly TimeSpan LoopsTimeout = TimeSpan.FromSeconds(5);

    private readonly EnabledNetmods _enabled;
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
        _enabled = enabled;
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

    /// <summary>Taken by whatever starts or stops netmods while the router runs, one change at a time.</summary>
    public SemaphoreSlim ChangeGate { get; } = new(1, 1);

    /// <summary>The running (or failed) instance of a netmod, by name.</summary>
    public NetmodInstance? Find(string name) =>
        Instances.FirstOrDefault(i => string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase));

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Taken, not kept: the host must not hold a plugin that is later unloaded.
        var plugins = _enabled.Take();
        await Task.WhenAll(plugins.Select(plugin => StartNetmodAsync(plugin, _configuration, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates and starts a netmod from <paramref name="plugin"/> with its section of
    /// <paramref name="configuration"/> (already validated). Returns its instance — running,
    /// or failed with <see cref="NetmodInstance.Error"/> — or null with the reason when the
    /// factory could not create it.
    /// </summary>
    public async Task<(NetmodInstance? Instance, string? Error)> StartNetmodAsync(NetmodPlugin plugin, RouterConfiguration configuration, CancellationToken cancellationToken)
    {
        Netmod netmod;
        try
        {
            var context = new NetmodContext(
                plugin.Name,
                _identity.Address,
                configuration.NetmodSettings(plugin.Name),
                configuration.Directory,
                _loggerFactory,
                _time)
            {
                ReceiveHeadroom = PacketGateway.ReceiveHeadroom,
            };
            netmod = plugin.Factory.Create(context);
        }
        catch (Exception e)
        {
            Log.NetmodFailed(_logger, plugin.Name, "could not be created", e.Message);
            return (null, $"could not be created: {e.Message}");
        }

        var instance = new NetmodInstance(plugin, netmod, ConfigDiff.Settings(configuration, plugin.Name));
        lock (_instances)
        {
            _instances.Add(instance);
        }

        if (instance.MaxFrameSize < MinimumFrameSize)
        {
            instance.MarkFailed($"its maximum frame size {instance.MaxFrameSize} is below the minimum of {MinimumFrameSize} bytes");
            Log.NetmodFailed(_logger, plugin.Name, "is unusable", instance.Error!);
            return (instance, null);
        }

        var local = instance.Capabilities.Kind == LinkKind.Local;

        // Loops start before the netmod so no event or frame waits on a full channel. Each
        // netmod's loops have their own token, so one can be stopped while the others run.
        var linked = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, instance.LoopsStopping.Token);
        var stopping = linked.Token;
        instance.Loops = Task.WhenAll(
            local
                ? Task.Run(() => _gateway.RunAsync(instance, stopping), CancellationToken.None)
                : Task.Run(() => _switch.RunAsync(instance, stopping), CancellationToken.None),
            Task.Run(() => RunNeighbourEventsAsync(instance, stopping), CancellationToken.None));

        // Unlinks it from the host's token once the loops are done, so stopped netmods leave nothing behind.
        _ = instance.Loops.ContinueWith(static (_, state) => ((IDisposable)state!).Dispose(), linked, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

        try
        {
            await netmod.StartAsync(cancellationToken).ConfigureAwait(false);
            if (local && await _gateway.AttachAsync(instance, cancellationToken).ConfigureAwait(false) is { } refused)
            {
                instance.MarkFailed(refused);
                Log.NetmodFailed(_logger, plugin.Name, "is unusable", refused);
                await StopQuietlyAsync(instance, CancellationToken.None).ConfigureAwait(false);
                return (instance, null);
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

        return (instance, null);
    }

    /// <summary>
    /// Stops one netmod while the router runs: its neighbours go down, its loops end (cancelled
    /// if they have not after a bound), and it leaves <see cref="Instances"/>. Its plugin stays
    /// loaded; the caller decides whether to unload it.
    /// </summary>
    public async Task StopNetmodAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        await StopQuietlyAsync(instance, cancellationToken).ConfigureAwait(false);

        // The loops end by themselves once the netmod completes its channels; one that does
        // not (a faulty netmod) is cancelled, and the switch loop still returns queued buffers.
        await instance.Loops.WaitAsync(LoopsTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!instance.Loops.IsCompleted)
        {
            Log.LoopsCancelled(_logger, instance.Name, LoopsTimeout.TotalSeconds);
            await instance.LoopsStopping.CancelAsync().ConfigureAwait(false);
            await instance.Loops.WaitAsync(LoopsTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        lock (_instances)
        {
            _instances.Remove(instance);
        }

        Log.NetmodStopped(_logger, instance.Name);
    }

    /// <summary>
    /// Stops a netmod (<see cref="StopNetmodAsync"/>) and unloads its plugin's load context when
    /// no other netmod uses it. Returns a weak reference to the context, to see it collected, or
    /// null when it stays loaded (shared, or not collectible).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public async Task<WeakReference?> StopAndUnloadAsync(NetmodInstance instance)
    {
        await StopNetmodAsync(instance, CancellationToken.None).ConfigureAwait(false);
        if (instance.Plugin.LoadContext is not { } context || IsInUse(instance.Plugin))
        {
            return null;
        }

        context.Unload();
        return new WeakReference(context);
    }

    /// <summary>Whether another instance still uses the load context of <paramref name="plugin"/>.</summary>
    public bool IsInUse(NetmodPlugin plugin) =>
        plugin.LoadContext is { } context && Instances.Any(i => i.Plugin.LoadContext == context);

    private async Task RunNeighbourEventsAsync(NetmodInstance instance, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in instance.Netmod.NeighbourEvents.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                instance.TrackNeighbour(e);
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
        var instances = Instances;
        await Task.WhenAll(instances.Select(i => StopQuietlyAsync(i, cancellationToken))).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(instances.Select(i => i.Loops)).WaitAsync(LoopsTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

        [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Netmod '{Name}' stopped; its links are down and its loops ended")]
        public static partial void NetmodStopped(ILogger logger, string name);

        [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Netmod '{Name}': its loops did not end within {Seconds} s of stopping it; cancelled")]
        public static partial void LoopsCancelled(ILogger logger, string name, double seconds);

        [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Neighbour up: {Address} via {Netmod} ({Endpoint})")]
        public static partial void NeighbourUp(ILogger logger, string address, string netmod, string endpoint);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Neighbour down: {Address} via {Netmod} ({Endpoint})")]
        public static partial void NeighbourDown(ILogger logger, string address, string netmod, string endpoint);
    }
}

/// <summary>
/// The plugins of the netmods the configuration enables, resolved at start-up. The host takes
/// them once (<see cref="Take"/>) so this singleton does not keep a plugin loaded after it is
/// unloaded.
/// </summary>
internal sealed class EnabledNetmods(IReadOnlyList<NetmodPlugin> plugins)
{
    private IReadOnlyList<NetmodPlugin>? _plugins = plugins;

    public IReadOnlyList<NetmodPlugin> Plugins => Volatile.Read(ref _plugins) ?? [];

    public IReadOnlyList<NetmodPlugin> Take() => Interlocked.Exchange(ref _plugins, null) ?? [];
}
