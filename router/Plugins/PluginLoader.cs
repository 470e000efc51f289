using System.Reflection;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Plugins;

/// <summary>
/// Finds netmod plugins: every subfolder <c>&lt;name&gt;/</c> of the plugins folder with a
/// <c>&lt;name&gt;.dll</c>, loaded into its own <see cref="PluginLoadContext"/>. Each plugin
/// that cannot be used is reported once, with the reason, and skipped; the rest load.
/// Folders are visited in ordinal order, so when two plugins claim one name the same one
/// wins every time.
/// </summary>
internal sealed partial class PluginLoader
{
    private readonly ILogger _logger;
    private readonly HashSet<string> _platformAssemblies;

    public PluginLoader(ILogger<PluginLoader> logger)
    {
        _logger = logger;
        _platformAssemblies = ((AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string) ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(Path.GetFileNameWithoutExtension)
            .ToHashSet(StringComparer.OrdinalIgnoreCase)!;
    }

    public PluginScan Scan(string directory)
    {
        var plugins = new List<NetmodPlugin>();
        var failures = new List<PluginFailure>();
        if (!Directory.Exists(directory))
        {
            Log.NoPluginsDirectory(_logger, directory);
            return new PluginScan(directory, plugins, failures);
        }

        foreach (var folder in Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            LoadFolder(folder, plugins, failures);
        }

        foreach (var failure in failures)
        {
            Log.PluginSkipped(_logger, failure.Path, failure.Reason);
        }

        foreach (var plugin in plugins)
        {
            Log.PluginFound(_logger, plugin.Name, plugin.AssemblyVersion, plugin.AssemblyPath);
        }

        return new PluginScan(directory, plugins, failures);
    }

    /// <summary>
    /// Loads the one plugin <c>&lt;directory&gt;/&lt;name&gt;/&lt;name&gt;.dll</c> into a new load
    /// context, for a netmod brought up while the router runs. Returns the plugin, or null with
    /// every reason it cannot be used in <paramref name="failures"/> (its context then unloaded).
    /// </summary>
    public NetmodPlugin? LoadOne(string directory, string name, List<string> failures)
    {
        if (!IsValidName(name))
        {
            failures.Add($"'{name}' is not a netmod name (lowercase letters, digits, '-' and '_')");
            return null;
        }

        var folder = Path.Combine(directory, name);
        if (!Directory.Exists(folder))
        {
            failures.Add($"there is no folder {folder} (a plugin is {Path.Combine(directory, name, name + ".dll")})");
            return null;
        }

        var plugins = new List<NetmodPlugin>();
        var problems = new List<PluginFailure>();
        LoadFolder(folder, plugins, problems);
        var plugin = plugins.FirstOrDefault(p => p.Name == name);
        if (plugin is null)
        {
            failures.AddRange(problems.Select(p => p.ToString()));
            if (problems.Count == 0)
            {
                failures.Add($"{Path.Combine(folder, name + ".dll")} provides no netmod named '{name}' (it provides {string.Join(", ", plugins.Select(p => p.Name))})");
            }

            plugins.Select(p => p.LoadContext).Distinct().ToList().ForEach(c => c?.Unload());
            return null;
        }

        foreach (var failure in problems)
        {
            Log.PluginSkipped(_logger, failure.Path, failure.Reason);
        }

        Log.PluginLoaded(_logger, plugin.Name, plugin.AssemblyVersion, plugin.AssemblyPath);
        return plugin;
    }

    /// <summary>Whether <paramref name="name"/> is a valid netmod name (and so a safe folder name).</summary>
    public static bool IsValidName(string name) =>
        !string.IsNullOrWhiteSpace(name) && name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

    private void LoadFolder(string folder, List<NetmodPlugin> plugins, List<PluginFailure> failures)
    {
        var name = Path.GetFileName(folder);
        var assemblyPath = Path.Combine(folder, name + ".dll");
        if (!File.Exists(assemblyPath))
        {
            failures.Add(new PluginFailure(folder, $"no {name}.dll in it (a plugin folder holds <name>/<name>.dll); skipped"));
            return;
        }

        var context = new PluginLoadContext(assemblyPath);
        var problems = new List<string>();
        var failure = LoadAssembly(context, assemblyPath, plugins, problems);
        if (failure is not null)
        {
            failures.Add(failure);
        }

        failures.AddRange(problems.Select(p => new PluginFailure(assemblyPath, p + "; skipped")));
        if (!plugins.Any(p => p.LoadContext == context))
        {
            context.Unload();
        }
    }

    /// <summary>Loads the netmods of one assembly into <paramref name="plugins"/>; returns why the whole assembly failed, or null.</summary>
    private PluginFailure? LoadAssembly(PluginLoadContext context, string assemblyPath, List<NetmodPlugin> plugins, List<string> failures)
    {
        Assembly assembly;
        try
        {
            assembly = context.LoadFromAssemblyPath(assemblyPath);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or IOException)
        {
            return new PluginFailure(assemblyPath, $"not a loadable .NET assembly ({e.Message}); skipped");
        }

        var references = assembly.GetReferencedAssemblies();
        var sdkReference = references.FirstOrDefault(r => r.Name == "Router.Sdk");
        if (sdkReference?.Version is not { } sdkVersion)
        {
            return new PluginFailure(assemblyPath, "contains no netmod (it does not reference Router.Sdk); skipped");
        }

        if (!SdkVersion.IsCompatible(sdkVersion, SdkVersion.Current))
        {
            return new PluginFailure(assemblyPath,
                $"built against Router.Sdk {sdkVersion.ToString(2)}, but this router provides Router.Sdk {SdkVersion.Current.ToString(2)}; rebuild the netmod against SDK {SdkVersion.Current.Major}.x; skipped");
        }

        var missing = references
            .Where(r => !PluginLoadContext.IsShared(r) && r.Name is not null && !_platformAssemblies.Contains(r.Name) && context.ResolvePath(r) is null)
            .Select(r => $"{r.Name} {r.Version}")
            .ToList();
        if (missing.Count > 0)
        {
            return new PluginFailure(assemblyPath,
                $"missing dependency {string.Join(", ", missing)} (not beside the plugin nor part of the router); skipped");
        }

        List<Type> factoryTypes;
        try
        {
            factoryTypes = assembly.GetExportedTypes()
                .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(INetmodFactory).IsAssignableFrom(t))
                .ToList();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            return new PluginFailure(assemblyPath, $"its types cannot be loaded ({FirstMessage(e)}); skipped");
        }

        if (factoryTypes.Count == 0)
        {
            return new PluginFailure(assemblyPath, "contains no netmod (no public class implements INetmodFactory); skipped");
        }

        foreach (var type in factoryTypes)
        {
            INetmodFactory factory;
            string name;
            try
            {
                factory = (INetmodFactory)Activator.CreateInstance(type)!;
                name = factory.Name;
            }
            catch (Exception e)
            {
                failures.Add($"{type.FullName} cannot be created ({FirstMessage(e)})");
                continue;
            }

            if (!IsValidName(name))
            {
                failures.Add($"{type.FullName} has the invalid netmod name '{name}' (lowercase letters, digits, '-' and '_')");
                continue;
            }

            var existing = plugins.FirstOrDefault(p => p.Name == name);
            if (existing is not null)
            {
                failures.Add($"netmod name '{name}' is already provided by {existing.AssemblyPath}");
                continue;
            }

            plugins.Add(new NetmodPlugin(name, factory, assemblyPath, assembly.GetName().Version ?? new Version(0, 0), sdkVersion, context));
        }

        return null;
    }

    private static string FirstMessage(Exception e) => e switch
    {
        ReflectionTypeLoadException { LoaderExceptions: [{ } first, ..] } => first.Message,
        System.Reflection.TargetInvocationException { InnerException: { } inner } => inner.Message,
        _ => e.Message,
    };

    private static partial class Log
    {
        // At start-up every plugin is inspected; those no netmod uses are unloaded again (RouterApp).
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Found netmod '{Name}' {Version} in {Path}")]
        public static partial void PluginFound(ILogger logger, string name, Version version, string path);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Loaded netmod '{Name}' {Version} from {Path}")]
        public static partial void PluginLoaded(ILogger logger, string name, Version version, string path);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Plugin {Path}: {Reason}")]
        public static partial void PluginSkipped(ILogger logger, string path, string reason);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Plugins folder {Directory} does not exist; no netmods loaded")]
        public static partial void NoPluginsDirectory(ILogger logger, string directory);
    }
}
