using System.Reflection;
using System.Runtime.Loader;

namespace Router.Plugins;

/// <summary>
/// The load context of one netmod plugin. Router.Sdk and the Microsoft.Extensions
/// abstractions it exposes come from the host, so a plugin's <c>INetmodFactory</c> and
/// <c>ILogger</c> are the host's types; everything else resolves through the plugin's own
/// <c>.deps.json</c>. Collectible, so a plugin can be unloaded while the router runs.
/// </summary>
internal sealed class PluginLoadContext : AssemblyLoadContext
{
    private readonly AssemblyDependencyResolver _resolver;

    public PluginLoadContext(string mainAssemblyPath)
        : base(Path.GetFileNameWithoutExtension(mainAssemblyPath), isCollectible: true)
    {
        _resolver = new AssemblyDependencyResolver(mainAssemblyPath);
    }

    /// <summary>Whether an assembly must be the host's copy for types to unify.</summary>
    public static bool IsShared(AssemblyName name) =>
        name.Name is { } simple &&
        (simple == "Router.Sdk" ||
         simple == "Microsoft.Extensions.Primitives" ||
         (simple.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) && simple.EndsWith(".Abstractions", StringComparison.Ordinal)));

    /// <summary>Where the plugin's dependency files say an assembly is, or null.</summary>
    public string? ResolvePath(AssemblyName name) => _resolver.ResolveAssemblyToPath(name);

    /// <summary>
    /// Collects garbage until the unloaded context behind <paramref name="context"/> is gone, or
    /// <paramref name="timeout"/> passes. A context is collected only once nothing references its
    /// types; parts of the router let go of a stopped netmod asynchronously (routing forgets its
    /// neighbours on its own loop), hence the retries.
    /// </summary>
    public static async Task<bool> WaitUntilCollectedAsync(WeakReference context, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            if (!context.IsAlive)
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName))
        {
            // Null defers to the default context: the host's copy.
            return null;
        }

        var path = _resolver.ResolveAssemblyToPath(assemblyName);
        return path is null ? null : LoadFromAssemblyPath(path);
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        var path = _resolver.ResolveUnmanagedDllToPath(unmanagedDllName);
        return path is null ? IntPtr.Zero : LoadUnmanagedDllFromPath(path);
    }
}
