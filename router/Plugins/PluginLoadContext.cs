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
