using Router.Sdk;

namespace Router.Plugins;

/// <summary>A netmod plugin that loaded: its factory and where it came from.</summary>
internal sealed record NetmodPlugin(
    string Name,
    INetmodFactory Factory,
    string AssemblyPath,
    Version AssemblyVersion,
    Version SdkVersion,
    PluginLoadContext? LoadContext);

/// <summary>A plugin that did not load, and why, in words for the operator.</summary>
internal sealed record PluginFailure(string Path, string Reason)
{
    public override string ToString() => $"{Path}: {Reason}";
}

/// <summary>The outcome of scanning a plugins folder.</summary>
internal sealed record PluginScan(string Directory, IReadOnlyList<NetmodPlugin> Plugins, IReadOnlyList<PluginFailure> Failures)
{
    public NetmodPlugin? Find(string name) =>
        Plugins.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Unloads the load context of every plugin not in <paramref name="kept"/> (a context that
    /// also holds a kept plugin stays): only the netmods in use stay loaded, so a newer build
    /// dropped into the folder can be loaded later (<c>router plugins load</c>).
    /// </summary>
    public void UnloadExcept(IEnumerable<NetmodPlugin> kept)
    {
        var keptContexts = kept.Select(p => p.LoadContext).ToHashSet();
        foreach (var context in Plugins.Select(p => p.LoadContext).Distinct())
        {
            if (context is not null && !keptContexts.Contains(context))
            {
                context.Unload();
            }
        }
    }
}
