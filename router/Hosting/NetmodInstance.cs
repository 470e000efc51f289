using Router.Plugins;
using Router.Sdk;

namespace Router.Hosting;

/// <summary>Where a configured netmod stands.</summary>
internal enum NetmodState
{
    Starting,
    Running,
    Failed,
    Stopped,
}

/// <summary>
/// One netmod created from a plugin, as the core tracks it: the <see cref="Sdk.Netmod"/> itself,
/// its fixed capabilities, and its state. The switch and the route table refer to it.
/// </summary>
internal sealed class NetmodInstance
{
    private volatile NetmodState _state = NetmodState.Starting;

    public NetmodInstance(NetmodPlugin plugin, Netmod netmod)
    {
        Plugin = plugin;
        Netmod = netmod;
        Capabilities = netmod.Capabilities;
        Name = plugin.Name;
        MaxFrameSize = Capabilities.MaxFrameSize;
    }

    public string Name { get; }

    public NetmodPlugin Plugin { get; }

    public Netmod Netmod { get; }

    public NetmodCapabilities Capabilities { get; }

    /// <summary>Cached from <see cref="Capabilities"/> for the frame path.</summary>
    public int MaxFrameSize { get; }

    public NetmodState State => _state;

    /// <summary>Why the netmod failed, when <see cref="State"/> is <see cref="NetmodState.Failed"/>.</summary>
    public string? Error { get; private set; }

    public void MarkRunning() => _state = NetmodState.Running;

    public void MarkStopped() => _state = NetmodState.Stopped;

    public void MarkFailed(string error)
    {
        Error = error;
        _state = NetmodState.Failed;
    }
}
