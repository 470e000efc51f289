using Microsoft.Extensions.Logging;
using Router.Configuration;
using Router.Logging;
using Router.Plugins;
using Router.Sdk;

namespace Router.Hosting;

/// <summary>What a reload did, or why it did nothing.</summary>
/// <param name="Applied">False when the new configuration was rejected: nothing changed.</param>
/// <param name="Problems">Every reason the new configuration was rejected.</param>
/// <param name="Changes">What changed, one sentence each.</param>
/// <param name="Warnings">Changed keys that take effect only at the next start.</param>
/// <param name="Failures">Changes that were valid but failed (a netmod that cannot start); the rest applied.</param>
internal sealed record ReloadResult(bool Applied, string File, IReadOnlyList<string> Problems, IReadOnlyList<string> Changes, IReadOnlyList<string> Warnings, IReadOnlyList<string> Failures);

/// <summary>
/// Live reload (<c>router reload</c>, SIGHUP): reads the configuration file again, validates it
/// as start-up does (every problem at once; a rejected file changes nothing), and applies the
/// difference (<see cref="ConfigDiff"/>) to the running netmods — newly enabled ones start,
/// disabled ones stop and their plugins unload, a section whose peers alone changed gets the
/// peer difference with its other links untouched, any other change restarts just that
/// netmod. <c>Router</c> keys and peer policies are read only at start-up: a change to them is
/// reported as needing a restart. The <c>Logging</c> section applies at once through
/// <see cref="LogLevels.Apply"/> (levels set at run time with <c>router log-level</c> end there:
/// after a reload the file says what is logged).
/// </summary>
internal sealed partial class ConfigReloader
{
    private static readonly TimeSpan PeerRemovalTimeout = TimeSpan.FromSeconds(10);

    private readonly LogLevels? _levels;
    private readonly RouterOptions _options;
    private readonly NetmodHost _host;
    private readonly PluginLoader _loader;
    private readonly ILogger _logger;
    private readonly RouterConfiguration _startedWith;
    private RouterConfiguration _current;

    /// <param name="levels">The router process's run-time log levels; routers inside tests have none.</param>
    public ConfigReloader(RouterConfiguration configuration, RouterOptions options, NetmodHost host, PluginLoader loader, ILogger<ConfigReloader> logger, LogLevels? levels = null)
    {
        _levels = levels;
        _current = configuration;
        _startedWith = configuration;
        _options = options;
        _host = host;
        _loader = loader;
        _logger = logger;
    }

    /// <summary>The configuration in force: the one started with, or the last reload applied.</summary>
    public RouterConfiguration Current => Volatile.Read(ref _current);

    /// <summary>Reads the configuration file (and environment and command-line overrides) again and applies it.</summary>
    public async Task<ReloadResult> ReloadFromFileAsync(CancellationToken cancellationToken)
    {
        var current = Current;
        RouterConfiguration candidate;
        try
        {
            candidate = RouterConfiguration.Load(current.FilePath, current.Overrides);
        }
        catch (ConfigurationException e)
        {
            return Reject(current.FilePath, e.Problems);
        }

        return await ReloadAsync(candidate, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Validates <paramref name="candidate"/> and, when it is valid, applies it.</summary>
    /// <param name="cancellationToken">Cancels waiting for another change to finish; a reload once begun runs to its end.</param>
    public async Task<ReloadResult> ReloadAsync(RouterConfiguration candidate, CancellationToken cancellationToken)
    {
        await _host.ChangeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Log.Reloading(_logger, candidate.FilePath);
            var problems = new List<string>();
            var plugins = Validate(candidate, problems, out var loaded);
            if (problems.Count > 0)
            {
                foreach (var plugin in loaded)
                {
                    plugin.LoadContext?.Unload();
                }

                return Reject(candidate.FilePath, problems);
            }

            var running = _host.Instances.ToDictionary(
                i => i.Name,
                i => new RunningNetmod(i.Settings, i.State == NetmodState.Failed),
                StringComparer.OrdinalIgnoreCase);
            var plan = ConfigDiff.Compute(Current, candidate, running, _startedWith);
            var changes = new List<string>();
            var failures = new List<string>();
            foreach (var change in plan.Netmods.OrderBy(c => c.Kind == NetmodChangeKind.Start))
            {
                await ApplyAsync(change, candidate, plugins, changes, failures).ConfigureAwait(false);
            }

            // Plugins loaded only to validate a section (a netmod unloaded by hand stays unloaded).
            foreach (var plugin in loaded.Where(p => !_host.IsInUse(p)))
            {
                plugin.LoadContext?.Unload();
            }

            Volatile.Write(ref _current, candidate);
            _levels?.Apply(candidate.Root);
            if (plan.LoggingChanged)
            {
                Report(changes, "Logging: the log levels of the new file apply");
            }

            var warnings = plan.NeedsRestart.Select(key => $"{key} changed; it is read only at start-up, so restart the router to apply it").ToList();
            foreach (var warning in warnings)
            {
                Log.NeedsRestart(_logger, warning);
            }

            if (changes.Count == 0 && failures.Count == 0)
            {
                changes.Add("nothing to change");
            }

            Log.Reloaded(_logger, candidate.FilePath, changes.Count, warnings.Count, failures.Count);
            return new ReloadResult(true, candidate.FilePath, [], changes, warnings, failures);
        }
        finally
        {
            _host.ChangeGate.Release();
        }
    }

    /// <summary>
    /// The start-up checks on a new configuration: the Router section, and each enabled netmod's
    /// section validated by its plugin — the running one, or for a netmod not running, the one in
    /// the plugins folder, loaded now (<paramref name="loaded"/>; unloaded again unless it starts).
    /// </summary>
    private Dictionary<string, NetmodPlugin> Validate(RouterConfiguration candidate, List<string> problems, out List<NetmodPlugin> loaded)
    {
        loaded = [];
        candidate.ReadRouterOptions(problems);
        var plugins = new Dictionary<string, NetmodPlugin>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in candidate.ConfiguredNetmods())
        {
            if (!candidate.IsEnabled(name, problems))
            {
                continue;
            }

            var plugin = _host.Find(name)?.Plugin;
            if (plugin is null)
            {
                var failures = new List<string>();
                plugin = _loader.LoadOne(_options.PluginsDirectory, name, failures);
                if (plugin is null)
                {
                    problems.Add($"Netmods:{name} is enabled, but its plugin cannot be loaded: {string.Join("; ", failures)}.");
                    continue;
                }

                loaded.Add(plugin);
            }

            try
            {
                problems.AddRange(plugin.Factory.Validate(candidate.NetmodSettings(name)));
            }
            catch (Exception e)
            {
                problems.Add($"Netmods:{name}: the netmod failed while validating its configuration: {e.Message}");
                continue;
            }

            plugins[name] = plugin;
        }

        return plugins;
    }

    private async Task ApplyAsync(NetmodChange change, RouterConfiguration candidate, Dictionary<string, NetmodPlugin> plugins, List<string> changes, List<string> failures)
    {
        var instance = _host.Find(change.Name);
        switch (change.Kind)
        {
            case NetmodChangeKind.Stop when instance is not null:
                await _host.StopAndUnloadAsync(instance).ConfigureAwait(false);
                Report(changes, $"netmod '{change.Name}' stopped and unloaded (disabled in the configuration)");
                break;
            case NetmodChangeKind.Restart when instance is not null:
                await RestartAsync(instance, candidate, $"changed: {string.Join(", ", change.ChangedKeys)}", changes, failures).ConfigureAwait(false);
                break;
            case NetmodChangeKind.Peers when instance is not null:
                await ApplyPeersAsync(instance, change, candidate, changes, failures).ConfigureAwait(false);
                break;
            case NetmodChangeKind.Start when instance is null && plugins.TryGetValue(change.Name, out var plugin):
                await StartAsync(plugin, candidate, "started (enabled in the configuration)", changes, failures).ConfigureAwait(false);
                break;
        }
    }

    private async Task RestartAsync(NetmodInstance instance, RouterConfiguration candidate, string why, List<string> changes, List<string> failures)
    {
        var plugin = instance.Plugin;
        await _host.StopNetmodAsync(instance, CancellationToken.None).ConfigureAwait(false);
        await StartAsync(plugin, candidate, $"restarted ({why}); its links were re-established", changes, failures).ConfigureAwait(false);
    }

    private async Task StartAsync(NetmodPlugin plugin, RouterConfiguration candidate, string what, List<string> changes, List<string> failures)
    {
        var (started, error) = await _host.StartNetmodAsync(plugin, candidate, CancellationToken.None).ConfigureAwait(false);
        if (started is { State: NetmodState.Running })
        {
            Report(changes, $"netmod '{plugin.Name}' {what}");
            return;
        }

        var reason = started?.Error ?? error ?? "unknown";
        failures.Add($"netmod '{plugin.Name}' could not start: {reason}");
        Log.ChangeFailed(_logger, failures[^1]);
        if (started is null && !_host.IsInUse(plugin))
        {
            plugin.LoadContext?.Unload();
        }
    }

    private async Task ApplyPeersAsync(NetmodInstance instance, NetmodChange change, RouterConfiguration candidate, List<string> changes, List<string> failures)
    {
        var removal = instance.Netmod.GetFeature<IPeerRemovalFeature>();
        if (change.RemovedPeers.Count > 0 && removal is null)
        {
            await RestartAsync(instance, candidate, "peers removed, and this netmod cannot remove peers while running", changes, failures).ConfigureAwait(false);
            return;
        }

        try
        {
            if (change.RemovedPeers.Count > 0)
            {
                using var timeout = new CancellationTokenSource(PeerRemovalTimeout);
                await removal!.RemovePeersAsync(change.RemovedPeers, timeout.Token).ConfigureAwait(false);
                Report(changes, $"netmod '{change.Name}': peers removed, their links closed: {string.Join(", ", change.RemovedPeers)}");
            }

            if (change.AddedPeers.Count > 0)
            {
                await instance.Netmod.AddPeersAsync(change.AddedPeers, CancellationToken.None).ConfigureAwait(false);
                Report(changes, $"netmod '{change.Name}': peers added: {string.Join(", ", change.AddedPeers)}");
            }

            instance.Settings = ConfigDiff.Settings(candidate, change.Name);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OperationCanceledException)
        {
            failures.Add($"netmod '{change.Name}': changing its peers failed: {e.Message}");
            Log.ChangeFailed(_logger, failures[^1]);
        }
    }

    private void Report(List<string> changes, string change)
    {
        changes.Add(change);
        Log.Changed(_logger, change);
    }

    private ReloadResult Reject(string file, IReadOnlyList<string> problems)
    {
        Log.Rejected(_logger, file, problems.Count);
        foreach (var problem in problems)
        {
            Log.Problem(_logger, problem);
        }

        return new ReloadResult(false, file, problems, [], [], []);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Reloading the configuration from {File}")]
        public static partial void Reloading(ILogger logger, string file);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Error, Message = "Reload rejected: {File} has {Count} problem(s); the configuration in force is unchanged")]
        public static partial void Rejected(ILogger logger, string file, int count);

        [LoggerMessage(EventId = 1303, Level = LogLevel.Error, Message = "  - {Problem}")]
        public static partial void Problem(ILogger logger, string problem);

        [LoggerMessage(EventId = 1304, Level = LogLevel.Information, Message = "Reload: {Change}")]
        public static partial void Changed(ILogger logger, string change);

        [LoggerMessage(EventId = 1305, Level = LogLevel.Warning, Message = "Reload: {Warning}")]
        public static partial void NeedsRestart(ILogger logger, string warning);

        [LoggerMessage(EventId = 1306, Level = LogLevel.Error, Message = "Reload: {Failure}")]
        public static partial void ChangeFailed(ILogger logger, string failure);

        [LoggerMessage(EventId = 1307, Level = LogLevel.Information, Message = "Reloaded {File}: {Changes} change(s), {Warnings} needing a restart, {Failures} failed")]
        public static partial void Reloaded(ILogger logger, string file, int changes, int warnings, int failures);
    }
}
