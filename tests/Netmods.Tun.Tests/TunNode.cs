using Router.Sdk;

namespace Router.Netmods.Tun.Tests;

/// <summary>A tun netmod started inside a namespace, with its captured logs; disposing stops it.</summary>
internal sealed class TunNode : IAsyncDisposable
{
    /// <summary>Upper bound on any single wait for a packet.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private TunNode(TunInterface netmod, NetworkNamespace ns, CapturingLoggerProvider logs)
    {
        Netmod = netmod;
        Namespace = ns;
        Logs = logs;
    }

    public TunInterface Netmod { get; }

    public NetworkNamespace Namespace { get; }

    public CapturingLoggerProvider Logs { get; }

    public string Name => Netmod.DeviceName;

    /// <summary>
    /// Creates the netmod from <paramref name="settings"/> (and <paramref name="adjust"/>), asked
    /// for <paramref name="headroom"/> as the router would (<see cref="NetmodContext.ReceiveHeadroom"/>),
    /// and starts it on a thread inside <paramref name="ns"/>.
    /// </summary>
    public static async Task<TunNode> StartAsync(NetworkNamespace ns, Dictionary<string, string?> settings, Func<TunOptions, TunOptions>? adjust = null, Action? onStartThread = null, int headroom = 0)
    {
        var netmod = Create(settings, out var logs, adjust, headroom);
        try
        {
            await StartInsideAsync(ns, netmod, onStartThread);
        }
        catch
        {
            await netmod.DisposeAsync();
            throw;
        }

        return new TunNode(netmod, ns, logs);
    }

    public static TunInterface Create(Dictionary<string, string?> settings, out CapturingLoggerProvider logs, Func<TunOptions, TunOptions>? adjust = null, int headroom = 0)
    {
        logs = new CapturingLoggerProvider();
        var context = NetmodTestContext.Create("tun", settings, NetmodTestContext.RandomAddress(), logs) with { ReceiveHeadroom = headroom };
        var errors = new List<string>();
        var options = TunOptions.Parse(context.Configuration, errors) ?? throw new ArgumentException(string.Join(" ", errors));
        return new TunInterface(context, adjust?.Invoke(options) ?? options);
    }

    /// <summary>Starts <paramref name="netmod"/> on a thread that has joined <paramref name="ns"/>, as the router's start-up thread would be.</summary>
    public static Task StartInsideAsync(NetworkNamespace ns, TunInterface netmod, Action? onStartThread = null) =>
        ns.RunInsideAsync(
            () =>
            {
                var start = netmod.StartAsync(CancellationToken.None);

                // Everything happens before StartAsync returns: the thread must not leave the namespace with work pending.
                Assert.True(start.IsCompleted);
                start.GetAwaiter().GetResult();
                return true;
            },
            onStartThread);

    /// <summary>The next frame from the device that <paramref name="match"/> accepts (header and packet, copied); others are released.</summary>
    public async Task<byte[]> NextFrameAsync(Func<byte[], bool> match, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        try
        {
            while (true)
            {
                var frame = await Netmod.Incoming.ReadAsync(cts.Token);
                var bytes = frame.Span.ToArray();
                frame.Release();
                if (match(bytes))
                {
                    return bytes;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no matching packet from {Name} within {(timeout ?? Timeout).TotalSeconds} s; counters: {Netmod.Counters}");
        }
    }

    /// <summary>Writes a plain IP packet (a zero virtio header in front) into the device.</summary>
    public async Task<SendResult> SendPacketAsync(byte[] packet) =>
        await Netmod.SendAsync(new NeighbourId(0), Packets.Frame(VirtioNetHeader.None, packet), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await Netmod.DisposeAsync();
        while (Netmod.Incoming.TryRead(out var frame))
        {
            frame.Release();
        }
    }
}
