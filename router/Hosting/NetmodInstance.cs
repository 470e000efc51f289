using System.Collections.Concurrent;
using Router.Plugins;
using Router.Sdk;
using Router.Switching;

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
/// <remarks>
/// Everything the core sends through a netmod goes through <see cref="SendAsync"/> and
/// <see cref="SendAllAsync"/>, and the switch reports what it reads (<see cref="CountReceived"/>),
/// so <see cref="Traffic"/> and <see cref="TrafficWith"/> count all of a netmod's frames.
/// </remarks>
internal sealed class NetmodInstance
{
    private readonly ConcurrentDictionary<NeighbourId, TrafficCounters> _neighbourTraffic = new();
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private volatile NetmodState _state = NetmodState.Starting;

    public NetmodInstance(NetmodPlugin plugin, Netmod netmod, IReadOnlyDictionary<string, string>? settings = null)
    {
        Settings = settings ?? new Dictionary<string, string>();
        Plugin = plugin;
        Netmod = netmod;
        Capabilities = netmod.Capabilities;
        Name = plugin.Name;
        MaxFrameSize = Capabilities.MaxFrameSize;
        Runs = netmod.GetFeature<IFrameRunFeature>();
    }

    public string Name { get; }

    public NetmodPlugin Plugin { get; }

    public Netmod Netmod { get; }

    public NetmodCapabilities Capabilities { get; }

    /// <summary>Cached from <see cref="Capabilities"/> for the frame path.</summary>
    public int MaxFrameSize { get; }

    /// <summary>The netmod's way to send several frames in one call, when it has one (<see cref="FrameSlicer"/> uses it).</summary>
    public IFrameRunFeature? Runs { get; }

    public NetmodState State => _state;

    /// <summary>
    /// The settings it runs with (<see cref="ConfigDiff.Settings"/>), which a reload compares
    /// with the new file. Replaced when a reload changes only its peers.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; set; }

    /// <summary>Its switch (or packet gateway) loop and neighbour-event loop; complete once both ended.</summary>
    public Task Loops { get; set; } = Task.CompletedTask;

    /// <summary>Cancels its loops: on shutdown, or when it is stopped and they do not end by themselves.</summary>
    public CancellationTokenSource LoopsStopping { get; } = new();

    /// <summary>Why the netmod failed, when <see cref="State"/> is <see cref="NetmodState.Failed"/>.</summary>
    public string? Error { get; private set; }

    /// <summary>Frames and bytes read from and sent through this netmod.</summary>
    public TrafficCounters Traffic { get; } = new();

    /// <summary>Frames and bytes exchanged with one neighbour since its link came up; null when it is not up.</summary>
    public TrafficCounters? TrafficWith(NeighbourId neighbour) => _neighbourTraffic.GetValueOrDefault(neighbour);

    /// <summary>Frames the switch dropped that came in here (or, for send failures, were to leave here).</summary>
    public long Drops(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    public void CountDrop(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    /// <summary>Starts or ends the per-neighbour counters (the netmod's neighbour-event loop).</summary>
    public void TrackNeighbour(NeighbourEvent e)
    {
        if (e.Kind == NeighbourEventKind.Up)
        {
            _neighbourTraffic[e.Neighbour] = new TrafficCounters();
        }
        else
        {
            _neighbourTraffic.TryRemove(e.Neighbour, out _);
        }
    }

    /// <summary>Counts a frame read from this netmod (the switch or packet gateway loop).</summary>
    public void CountReceived(NeighbourId from, int length)
    {
        Traffic.CountIn(length);
        if (_neighbourTraffic.TryGetValue(from, out var link))
        {
            link.CountIn(length);
        }
    }

    /// <summary><see cref="Netmod.SendAsync"/>, counting what was sent.</summary>
    public ValueTask<SendResult> SendAsync(NeighbourId to, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var pending = Netmod.SendAsync(to, frame, cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            var result = pending.Result;
            CountSent(to, result, frame.Length);
            return ValueTask.FromResult(result);
        }

        return AwaitSend(pending, to, frame.Length);
    }

    /// <summary>
    /// <see cref="IFrameRunFeature.SendRunAsync"/> (only when <see cref="Runs"/> is set), counting
    /// its <paramref name="frames"/> frames of <paramref name="frameBytes"/> bytes in all as sent.
    /// </summary>
    public async ValueTask<SendResult> SendRunAsync(NeighbourId to, Memory<byte> run, int stride, int frames, long frameBytes, CancellationToken cancellationToken)
    {
        var result = await Runs!.SendRunAsync(to, run, stride, cancellationToken).ConfigureAwait(false);
        if (result == SendResult.Sent)
        {
            Traffic.CountOut(frames, frameBytes);
            if (_neighbourTraffic.TryGetValue(to, out var link))
            {
                link.CountOut(frames, frameBytes);
            }
        }

        return result;
    }

    /// <summary><see cref="Netmod.SendAllAsync"/>, counting what was sent (per netmod only: a broadcast has no one neighbour).</summary>
    public async ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken)
    {
        var sent = await Netmod.SendAllAsync(frame, except, cancellationToken).ConfigureAwait(false);
        if (sent > 0)
        {
            Traffic.CountOut(sent, (long)sent * frame.Length);
        }

        return sent;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SendResult> AwaitSend(ValueTask<SendResult> pending, NeighbourId to, int length)
    {
        var result = await pending.ConfigureAwait(false);
        CountSent(to, result, length);
        return result;
    }

    private void CountSent(NeighbourId to, SendResult result, int length)
    {
        if (result != SendResult.Sent)
        {
            return;
        }

        Traffic.CountOut(1, length);
        if (_neighbourTraffic.TryGetValue(to, out var link))
        {
            link.CountOut(1, length);
        }
    }

    public void MarkRunning() => _state = NetmodState.Running;

    public void MarkStopped() => _state = NetmodState.Stopped;

    public void MarkFailed(string error)
    {
        Error = error;
        _state = NetmodState.Failed;
    }
}
