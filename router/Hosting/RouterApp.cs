using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Router.Api;
using Router.Configuration;
using Router.Dashboard;
using Router.Identity;
using Router.Logging;
using Router.Metrics;
using Router.Plugins;
using Router.Security;

namespace Router.Hosting;

/// <summary>
/// <c>router --config FILE [--check]</c>: reads and validates the configuration (every
/// problem at once), loads plugins, loads or creates the key, then runs the core and the
/// local API until SIGINT/SIGTERM. Exit codes: 0 after a clean stop or a valid check,
/// 1 for invalid configuration or a failed start.
/// </summary>
internal static partial class RouterApp
{
    public static async Task<int> RunAsync(string configPath, IReadOnlyList<string> overrides, bool checkOnly, CancellationToken cancellationToken)
    {
        RouterConfiguration configuration;
        try
        {
            configuration = RouterConfiguration.Load(configPath, overrides);
        }
        catch (ConfigurationException e)
        {
            return ReportProblems(Path.GetFullPath(configPath), e.Problems);
        }

        // Levels can change while running (API, reload); a bad LogFormat is reported with the other problems below.
        var logLevels = new LogLevels(configuration.Root);
        var logFormat = RouterLogging.ReadFormat(configuration.Root.GetSection(RouterOptions.SectionName), []);
        using var loggerFactory = LoggerFactory.Create(logging => RouterLogging.Configure(logging, logLevels, logFormat));
        var logger = loggerFactory.CreateLogger("Router");
        var problems = new List<string>();
        var options = configuration.ReadRouterOptions(problems);
        var scan = new PluginLoader(loggerFactory.CreateLogger<PluginLoader>()).Scan(options.PluginsDirectory);
        var enabled = ResolveEnabledNetmods(configuration, scan, problems);
        if (File.Exists(options.KeyFile))
        {
            try
            {
                KeyFile.Load(options.KeyFile).Dispose();
            }
            catch (KeyFileException e)
            {
                problems.Add($"Router:KeyFile: {e.Message}");
            }
        }

        if (problems.Count > 0)
        {
            return ReportProblems(configuration.FilePath, problems);
        }

        if (checkOnly)
        {
            Console.Out.WriteLine($"{configuration.FilePath}: configuration is valid; netmods enabled: {(enabled.Count == 0 ? "none" : string.Join(", ", enabled.Select(p => p.Name)))}");
            return 0;
        }

        // Only netmods in use stay loaded; `router plugins load` or a reload loads others from the folder then.
        scan.UnloadExcept(enabled);

        RouterIdentity identity;
        try
        {
            identity = KeyFile.LoadOrCreate(options.KeyFile, out var created);
            if (created)
            {
                Log.KeyCreated(logger, options.KeyFile);
            }
        }
        catch (KeyFileException e)
        {
            Console.Error.WriteLine($"router: {e.Message}");
            return 1;
        }

        using (identity)
        {
            if (!PrepareApiSocket(options.ApiSocket, out var socketError))
            {
                Console.Error.WriteLine($"router: {socketError}");
                return 1;
            }

            var app = Build(configuration, options, identity, new EnabledNetmods(enabled), loggerFactory, logLevels);
            Log.Starting(logger, identity.Address.ToString(), RouterStatus.Version, AeadKey.Implementation);
            try
            {
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidOperationException)
            {
                Console.Error.WriteLine($"router: cannot start: {e.Message}");
                await app.DisposeAsync().ConfigureAwait(false);
                return 1;
            }

            RestrictToOwner(options.ApiSocket);
            Log.Ready(logger, identity.Address.ToString(), options.ApiSocket);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
            TryDelete(options.ApiSocket);
            Log.Stopped(logger);
            return 0;
        }
    }

    /// <summary>
    /// The plugins of the netmods the configuration enables. An enabled netmod with no plugin
    /// is a problem naming it and the netmods found; each enabled netmod validates its section.
    /// </summary>
    internal static List<NetmodPlugin> ResolveEnabledNetmods(RouterConfiguration configuration, PluginScan scan, List<string> problems)
    {
        var enabled = new List<NetmodPlugin>();
        foreach (var name in configuration.ConfiguredNetmods())
        {
            if (!configuration.IsEnabled(name, problems))
            {
                continue;
            }

            var plugin = scan.Find(name);
            if (plugin is null)
            {
                var found = scan.Plugins.Count == 0 ? "none" : string.Join(", ", scan.Plugins.Select(p => p.Name));
                problems.Add($"Netmods:{name} is enabled, but no netmod named '{name}' was found in {scan.Directory} (found: {found}).");
                continue;
            }

            try
            {
                problems.AddRange(plugin.Factory.Validate(configuration.NetmodSettings(name)));
            }
            catch (Exception e)
            {
                problems.Add($"Netmods:{name}: the netmod failed while validating its configuration: {e.Message}");
                continue;
            }

            enabled.Add(plugin);
        }

        return enabled;
    }

    private static int ReportProblems(string file, IReadOnlyList<string> problems)
    {
        Console.Error.WriteLine($"router: configuration {file} has {problems.Count} problem{(problems.Count == 1 ? "" : "s")}:");
        foreach (var problem in problems)
        {
            Console.Error.WriteLine($"  - {problem}");
        }

        return 1;
    }

    private static WebApplication Build(RouterConfiguration configuration, RouterOptions options, RouterIdentity identity, EnabledNetmods enabled, ILoggerFactory loggerFactory, LogLevels logLevels)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = configuration.Directory,
            EnvironmentName = Environments.Production,
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddConfiguration(configuration.Root);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ListenUnixSocket(options.ApiSocket);
            kestrel.Limits.MaxRequestBodySize = options.MaxMessageBytes + 1L;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJson.Default));
        builder.Services.AddRouterCore(configuration, options, identity, enabled, loggerFactory, TimeProvider.System);
        builder.Services.AddHostedService<ReloadSignal>();
        builder.Services.AddDashboard(options.Dashboard);
        builder.Services.AddSingleton(logLevels);
        builder.Services.AddSingleton<RouterMetrics>();

        var app = builder.Build();

        // Created now rather than at the first scrape, so dotnet-counters sees the meter from the start.
        app.Services.GetRequiredService<RouterMetrics>();
        ApiEndpoints.Map(app);
        return app;
    }

    /// <summary>
    /// Removes a socket file left by a router that died; refuses when a live router answers on it.
    /// </summary>
    private static bool PrepareApiSocket(string path, out string? error)
    {
        error = null;
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return true;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                error = $"another router is already running with API socket {path}";
                return false;
            }
            catch (SocketException)
            {
                // Nobody listens: a stale file.
            }
        }

        TryDelete(path);
        return true;
    }

    private static void RestrictToOwner(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path))
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Router {Version} starting; address {Address}; AES-256-GCM from {Aead}")]
        public static partial void Starting(ILogger logger, string address, string version, string aead);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Router {Address} ready; API on {ApiSocket}")]
        public static partial void Ready(ILogger logger, string address, string apiSocket);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Router stopped")]
        public static partial void Stopped(ILogger logger);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Created a new key pair in {KeyFile}")]
        public static partial void KeyCreated(ILogger logger, string keyFile);
    }
}
