using Microsoft.Extensions.Logging;
using Router.Configuration;
using Router.Plugins;

namespace Router.Hosting;

/// <summary>How a plugin command ended, in HTTP terms for the API.</summary>
internal enum PluginOutcome
{
    Done,
    BadName,
    NotFound,
    AlreadyLoaded,
    Unusable,
}

/// <summary>The result of <c>router plugins load/unload</c>.</summary>
/// <param name="Instance">The netmod after a load.</param>
/// <param name="Collected">After an unload: whether the plugin's load context was collected (null: it stays loaded, shared by another netmod).</param>
internal sealed record PluginCommandResult(PluginOutcome Outcome, string Message, NetmodInstance? Instance = null, bool? Collected = null);

/// <summary>
/// Hot plugins: lists the loaded netmods, brings up a netmod dropped into the plugins folder
/// while the router runs, and stops and unloads one. Only netmods in use are loaded (start-up
/// unloads the rest), so "loaded" and "has an instance" mean the same.
/// </summary>
/// <remarks>
/// <c>load NAME</c> reads <c>plugins/NAME/NAME.dll</c> into a new load context, validates the
/// netmod's <c>Netmods:NAME</c> section of the configuration in force, and starts it — even when
/// that section says <c>"Enabled": false</c>: loading by hand is the operator's explicit wish;
/// the file's <c>Enabled</c> applies at start-up and when a reload changes it. A netmod that cannot
/// start is not left loaded. <c>unload NAME</c> stops it (its neighbours go down and routing
/// withdraws them) and unloads its context, then collects garbage until the context is gone.
/// </remarks>
internal sealed partial class PluginControl
{
    private static readonly TimeSpan CollectTimeout = TimeSpan.FromSeconds(10);

    private readonly NetmodHost _host;
    private readonly ConfigReloader _reloader;
    private readonly RouterOptions _options;
    private readonly PluginLoader _loader;
    private readonly ILogger _logger;

    public PluginControl(NetmodHost host, ConfigReloader reloader, RouterOptions options, PluginLoader loader, ILogger<PluginControl> logger)
    {
        _host = host;
        _reloader = reloader;
        _options = options;
        _loader = loader;
        _logger = logger;
    }

    /// <summary>The loaded netmods, in the order they were started.</summary>
    public IReadOnlyList<NetmodInstance> Loaded => _host.Instances;

    public async Task<PluginCommandResult> LoadAsync(string name, CancellationToken cancellationToken)
    {
        if (!PluginLoader.IsValidName(name))
        {
            return new(PluginOutcome.BadName, $"'{name}' is not a netmod name (lowercase letters, digits, '-' and '_')");
        }

        await _host.ChangeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_host.Find(name) is { } existing)
            {
                return new(PluginOutcome.AlreadyLoaded, $"netmod '{name}' is already loaded ({existing.State.ToString().ToLowerInvariant()}, {existing.Plugin.AssemblyPath}); unload it first (router plugins unload {name}) to load another build");
            }

            var failures = new List<string>();
            var plugin = _loader.LoadOne(_options.PluginsDirectory, name, failures);
            if (plugin is null)
            {
                var outcome = Directory.Exists(Path.Combine(_options.PluginsDirectory, name)) ? PluginOutcome.Unusable : PluginOutcome.NotFound;
                return Refuse(name, outcome, string.Join("; ", failures));
            }

            var configuration = _reloader.Current;
            List<string> problems;
            try
            {
                problems = [.. plugin.Factory.Validate(configuration.NetmodSettings(name))];
            }
            catch (Exception e)
            {
                problems = [$"the netmod failed while validating its configuration: {e.Message}"];
            }

            if (problems.Count > 0)
            {
                plugin.LoadContext?.Unload();
                return Refuse(name, PluginOutcome.Unusable, $"its configuration Netmods:{name} has {problems.Count} problem(s): {string.Join(" ", problems)}");
            }

            var (instance, error) = await _host.StartNetmodAsync(plugin, configuration, CancellationToken.None).ConfigureAwait(false);
            if (instance is not { State: NetmodState.Running })
            {
                var reason = instance?.Error ?? error ?? "unknown";
                if (instance is not null)
                {
                    await _host.StopNetmodAsync(instance, CancellationToken.None).ConfigureAwait(false);
                }

                plugin.LoadContext?.Unload();
                return Refuse(name, PluginOutcome.Unusable, $"it failed to start: {reason}");
            }

            Log.Loaded(_logger, name, plugin.AssemblyVersion.ToString(3), plugin.AssemblyPath);
            return new(PluginOutcome.Done, $"netmod '{name}' {plugin.AssemblyVersion.ToString(3)} loaded from {plugin.AssemblyPath} and started", instance);
        }
        finally
        {
            _host.ChangeGate.Release();
        }
    }

    public async Task<PluginCommandResult> UnloadAsync(string name, CancellationToken cancellationToken)
    {
        if (!PluginLoader.IsValidName(name))
        {
            return new(PluginOutcome.BadName, $"'{name}' is not a netmod name (lowercase letters, digits, '-' and '_')");
        }

        WeakReference? context;
        await _host.ChangeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            (var found, context) = await StopAndUnloadAsync(name).ConfigureAwait(false);
            if (!found)
            {
                var loaded = _host.Instances.Select(i => i.Name).ToList();
                return new(PluginOutcome.NotFound, $"no netmod named '{name}' is loaded (loaded: {(loaded.Count == 0 ? "none" : string.Join(", ", loaded))})");
            }
        }
        finally
        {
            _host.ChangeGate.Release();
        }

        // Outside the gate: collecting can take a while, and other changes need not wait for it.
        bool? collected = context is null ? null : await PluginLoadContext.WaitUntilCollectedAsync(context, CollectTimeout).ConfigureAwait(false);
        if (collected == false)
        {
            Log.NotCollected(_logger, name, CollectTimeout.TotalSeconds);
        }

        Log.Unloaded(_logger, name, collected switch { true => "its load context was collected", false => "its load context is still referenced", null => "its load context stays: another netmod shares it" });
        return new(PluginOutcome.Done, collected switch
        {
            true => $"netmod '{name}' stopped and unloaded; its load context was collected",
            false => $"netmod '{name}' stopped and unloaded; its load context was not collected within {CollectTimeout.TotalSeconds} s (something still references it)",
            null => $"netmod '{name}' stopped; its plugin stays loaded because another netmod shares its assembly",
        }, Collected: collected);
    }

    /// <summary>
    /// Finds and stops the netmod. Kept apart (and not inlined) so no local of the caller holds
    /// the instance while the caller waits for its load context to be collected.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private async Task<(bool Found, WeakReference? Context)> StopAndUnloadAsync(string name)
    {
        if (_host.Find(name) is not { } instance)
        {
            return (false, null);
        }

        return (true, await _host.StopAndUnloadAsync(instance).ConfigureAwait(false));
    }

    private PluginCommandResult Refuse(string name, PluginOutcome outcome, string reason)
    {
        Log.LoadRefused(_logger, name, reason);
        return new(outcome, $"cannot load netmod '{name}': {reason}");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Plugin '{Name}' {Version} loaded from {Path} and started")]
        public static partial void Loaded(ILogger logger, string name, string version, string path);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Error, Message = "Plugin '{Name}' not loaded: {Reason}")]
        public static partial void LoadRefused(ILogger logger, string name, string reason);

        [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Plugin '{Name}' stopped and unloaded; {Outcome}")]
        public static partial void Unloaded(ILogger logger, string name, string outcome);

        [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Plugin '{Name}': its load context was not collected within {Seconds} s of unloading; something still references its types")]
        public static partial void NotCollected(ILogger logger, string name, double seconds);
    }
}
