using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>What every connection, listener and dialer of one <see cref="InetEndpoint"/> shares.</summary>
/// <param name="Options">The parsed settings.</param>
/// <param name="LocalAddress">This router's address, sent in every hello.</param>
/// <param name="Time">Clock and timers.</param>
/// <param name="Logger">Where the netmod logs.</param>
/// <param name="Incoming">Where received frames go.</param>
/// <param name="Routes">The live links.</param>
/// <param name="Counters">What the endpoint counts.</param>
/// <param name="Stopping">Cancelled when the endpoint stops.</param>
internal sealed record InetRuntime(
    InetOptions Options,
    RouterAddress LocalAddress,
    TimeProvider Time,
    ILogger Logger,
    ChannelWriter<InboundFrame> Incoming,
    Routes Routes,
    InetCounters Counters,
    CancellationToken Stopping)
{
    private int _threads;

    /// <summary>Connection threads ("inet rx", "inet tx") started and not yet ended.</summary>
    public int Threads => Volatile.Read(ref _threads);

    /// <summary>Called just before a connection thread starts.</summary>
    public void ThreadStarting() => Interlocked.Increment(ref _threads);

    /// <summary>A connection thread's last act (or its start failed).</summary>
    public void ThreadEnded() => Interlocked.Decrement(ref _threads);
}
