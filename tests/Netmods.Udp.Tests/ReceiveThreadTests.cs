using System.Diagnostics;
using System.Threading.Channels;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// The receive threads (UdpEndpoint.cs, top comment): one per socket, running the reader that
/// waits on Incoming, ended by stopping. Real sockets on loopback.
/// </summary>
public sealed class ReceiveThreadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Incoming_AReaderWaitingForAFrame_ContinuesOnTheSocketsReceiveThread()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        using var cts = new CancellationTokenSource(Udp.Timeout);

        var continuedOn = ThreadAfterWaitAsync(b.Endpoint.Incoming, cts.Token);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 1, 2, 3 }, CancellationToken.None));

        // Not a pool thread woken to run it: the thread that received the datagram.
        Assert.Equal($"udp rx {b.ListenAddress}", await continuedOn.WaitAsync(Udp.Timeout));
        Assert.Equal(new byte[] { 1, 2, 3 }, (await b.NextFrameAsync()).Bytes);
    }

    [Fact]
    public async Task StartAsync_OneThreadPerSocket_NamedAfterIt()
    {
        var settings = Udp.FastSettings();
        settings["Listen:1"] = "[::1]:0";
        await using var node = await TestNode.StartAsync(settings);

        var threads = node.Endpoint.ReceiveThreads;

        Assert.Equal(
            node.Endpoint.ListenEndpoints.Select(e => $"udp rx {e}"),
            threads.Select(t => t.Name ?? "(unnamed)"));
        Assert.All(threads, t => Assert.True(t.IsAlive && t.IsBackground, $"{t.Name} alive and background"));
    }

    [Fact]
    public async Task StopAsync_WhileDatagramsKeepArriving_EndsPromptlyAndTheThreadsAreGone()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        var threads = b.Endpoint.ReceiveThreads;
        using var cts = new CancellationTokenSource(Udp.Timeout);

        // A reader like the router's switch (it runs on b's receive thread), and a sender that
        // keeps a's frames coming until the test is done.
        var reader = DrainAsync(b.Endpoint.Incoming, cts.Token);
        using var flooding = new CancellationTokenSource();
        var frame = new byte[200];
        var flood = Task.Run(
            () =>
            {
                while (!flooding.IsCancellationRequested && !cts.IsCancellationRequested)
                {
                    a.Endpoint.SendAsync(bOnA, frame, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                }
            },
            CancellationToken.None);
        try
        {
            await Eventually.TrueAsync(() => b.Endpoint.Counters.FramesDelivered > 1000, "frames are flowing", Udp.Timeout);

            var stopwatch = Stopwatch.StartNew();
            await b.Endpoint.StopAsync(CancellationToken.None).WaitAsync(Udp.Timeout);
            output.WriteLine($"stopped in {stopwatch.Elapsed.TotalMilliseconds:F1} ms; {b.Endpoint.Counters}");

            // Closing the sockets ends the threads' poll() at once; the poll timeout (0.5 s)
            // is the backstop, the stop's own deadline (5 s) far above.
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"stop took {stopwatch.Elapsed}");
            Assert.All(threads, t => Assert.True(t.Join(Udp.Timeout), $"{t.Name} ended"));
            Assert.All(threads, t => Assert.False(t.IsAlive));

            // Incoming completes with the stop, which ends the reader.
            Assert.True(await reader.WaitAsync(Udp.Timeout) > 0);
        }
        finally
        {
            await flooding.CancelAsync();
            await flood.WaitAsync(Udp.Timeout);
        }
    }

    [Fact]
    public async Task StopAsync_Idle_EndsTheThreadsBeforeThePollTimeout()
    {
        await using var node = await TestNode.StartAsync(Udp.FastSettings());
        var threads = node.Endpoint.ReceiveThreads;

        // Let the thread settle into its poll().
        await Task.Delay(100);
        var stopwatch = Stopwatch.StartNew();
        await node.Endpoint.StopAsync(CancellationToken.None).WaitAsync(Udp.Timeout);
        Assert.All(threads, t => Assert.True(t.Join(Udp.Timeout), $"{t.Name} ended"));
        output.WriteLine($"threads ended {stopwatch.Elapsed.TotalMilliseconds:F1} ms after the stop began");

        // Closing the socket woke the poll() (500 ms); loose, for a busy machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMilliseconds(450), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task ReceiveThread_EmptyDatagram_IsCountedAndTheThreadCarriesOn()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        using var raw = new RawPeer();

        // An empty datagram reads as "nothing queued" to FIONREAD; poll() still reports it.
        await raw.SendAsync([], b.LocalEndPoint);
        await Eventually.TrueAsync(() => b.Endpoint.Counters.Malformed == 1, "the empty datagram was counted", Udp.Timeout);
        Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 9 }, CancellationToken.None));

        Assert.Equal(new byte[] { 9 }, (await b.NextFrameAsync()).Bytes);
        Assert.Equal(0, b.Endpoint.Counters.ReceiveErrors);
    }

    /// <summary>
    /// Waits for a frame without taking it and returns the name of the thread the wait
    /// continued on. The wait must be pending when this returns, or the test proves nothing.
    /// </summary>
    private static async Task<string?> ThreadAfterWaitAsync(ChannelReader<InboundFrame> incoming, CancellationToken cancellationToken)
    {
        var pending = incoming.WaitToReadAsync(cancellationToken);
        Assert.False(pending.IsCompleted, "a frame was already waiting");

        // No captured context: the continuation runs wherever the channel runs it.
        await pending.ConfigureAwait(false);
        return Thread.CurrentThread.Name;
    }

    /// <summary>Reads and releases frames until Incoming completes; returns how many.</summary>
    private static async Task<int> DrainAsync(ChannelReader<InboundFrame> incoming, CancellationToken cancellationToken)
    {
        var count = 0;
        while (await incoming.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (incoming.TryRead(out var frame))
            {
                frame.Release();
                count++;
            }
        }

        return count;
    }
}
