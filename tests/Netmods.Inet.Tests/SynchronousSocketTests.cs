using System.Net;
using System.Net.Sockets;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Inet.Tests;

[CollectionDefinition(nameof(SynchronousSocketTests), DisableParallelization = true)]
public sealed class SynchronousSocketCollection;

/// <summary>
/// No asynchronous call on a link socket: connect, hello, sends and receives all run as plain
/// system calls on the connection's own threads, so the runtime's socket engine never wakes a
/// pool thread for an arriving segment. Alone in its collection: it counts the whole process's
/// thread-pool work items.
/// </summary>
[Collection(nameof(SynchronousSocketTests))]
public sealed class SynchronousSocketTests(ITestOutputHelper output)
{
    private const int RoundTrips = 200;

    [Fact]
    public async Task PingPong_AfterBurstsBothWays_CostsNoThreadPoolWorkPerRoundTrip()
    {
        var settings = Inet.FastSettings();
        settings["KeepaliveSeconds"] = "5";
        settings["DeadPeerTimeoutSeconds"] = "30";
        await using var b = await TestNode.StartAsync(settings);
        var aSettings = Inet.FastSettings(b.ListenAddress);
        aSettings["KeepaliveSeconds"] = "5";
        aSettings["DeadPeerTimeoutSeconds"] = "30";
        await using var a = await TestNode.StartAsync(aSettings);
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        var aOnB = (await b.ExpectUpAsync(a.Address)).Neighbour;

        // Bursts that fill the socket while the receiver pauses: the writers meet a full socket
        // and wait for it to drain, in both directions.
        await BurstAsync(a, bOnA, b);
        await BurstAsync(b, aOnB, a);

        var perRoundTrip = new List<double>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var before = ThreadPool.CompletedWorkItemCount;
            PingPong(a, bOnA, b, aOnB);
            perRoundTrip.Add((ThreadPool.CompletedWorkItemCount - before) / (double)RoundTrips);
        }

        output.WriteLine($"thread-pool work items per round trip: {string.Join(", ", perRoundTrip)}");
        Assert.True(perRoundTrip.Min() < 0.3, $"thread-pool work items per round trip: {string.Join(", ", perRoundTrip)}");
    }

    [Fact]
    public async Task Dial_PortNobodyListensOn_FailsAndRetriesWithBackoff()
    {
        var port = UnusedPort();
        await using var a = await TestNode.StartAsync(Inet.FastSettings($"127.0.0.1:{port}"));
        var deadline = DateTime.UtcNow + Inet.Timeout;
        PeerStatus status;
        do
        {
            await Task.Delay(50);
            status = a.Endpoint.GetPeers().Single();
        }
        while (status.LastError is null && DateTime.UtcNow < deadline);

        output.WriteLine(status.LastError);
        Assert.Equal(PeerState.Connecting, status.State);
        Assert.Contains("refused", status.LastError, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"127.0.0.1:{port}", status.LastError, StringComparison.Ordinal);
        Assert.Contains(a.Logs.Entries, e => e.Message.Contains("127.0.0.1:" + port, StringComparison.Ordinal));
        await a.Endpoint.StopAsync(CancellationToken.None);
        await WaitForNoConnectionThreadsAsync(a.Endpoint);
    }

    [Fact]
    public async Task Handshake_PeerSendsNothing_TimesOutAndIsCounted()
    {
        var settings = Inet.FastSettings();
        settings["HandshakeTimeoutSeconds"] = "0.5";
        await using var server = await TestNode.StartAsync(settings);
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);

        var received = await raw.ReadUntilClosedAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(Handshake.HelloSize, received.Length);
        var deadline = DateTime.UtcNow + Inet.Timeout;
        while (server.Endpoint.Counters.HandshakeTimeouts == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(1, server.Endpoint.Counters.HandshakeTimeouts);
        await WaitForNoConnectionThreadsAsync(server.Endpoint);
    }

    [Fact]
    public async Task Stop_DuringConnect_EndsPromptlyWithNoConnectionThreadLeft()
    {
        // A listener that never accepts, its backlog full: the kernel drops further SYNs, so
        // the dialer's connect stays pending.
        using var full = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        full.Listen(0);
        var fillers = new List<Socket>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                var connecting = filler.ConnectAsync(full.LocalEndPoint!);
                if (await Task.WhenAny(connecting, Task.Delay(300)) != connecting)
                {
                    break;
                }
            }

            var settings = Inet.FastSettings(full.LocalEndPoint!.ToString()!);
            settings["HandshakeTimeoutSeconds"] = "10";
            var a = await TestNode.StartAsync(settings);
            await WaitUntilAsync(() => a.Endpoint.ConnectionThreads > 0);
            await Task.Delay(200);
            Assert.Equal(PeerState.Connecting, a.Endpoint.GetPeers().Single().State);

            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            await a.Endpoint.StopAsync(CancellationToken.None);
            await WaitForNoConnectionThreadsAsync(a.Endpoint);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"stop took {stopwatch.Elapsed}");
            await a.DisposeAsync();
        }
        finally
        {
            foreach (var filler in fillers)
            {
                filler.Dispose();
            }
        }
    }

    [Fact]
    public async Task Stop_DuringHandshake_EndsPromptlyWithNoConnectionThreadLeft()
    {
        var settings = Inet.FastSettings();
        settings["HandshakeTimeoutSeconds"] = "10";
        var server = await TestNode.StartAsync(settings);

        // Neither side sends a hello: the dialer's connection waits in its hello too.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(4);
        var dialerSettings = Inet.FastSettings(silent.LocalEndPoint!.ToString()!);
        dialerSettings["HandshakeTimeoutSeconds"] = "10";
        var dialer = await TestNode.StartAsync(dialerSettings);
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        Assert.Equal(Handshake.HelloSize, (await raw.ReadExactlyAsync(Handshake.HelloSize)).Length);
        await WaitUntilAsync(() => dialer.Endpoint.ConnectionThreads > 0 && server.Endpoint.ConnectionThreads > 0);
        await Task.Delay(200);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(server.Endpoint.StopAsync(CancellationToken.None), dialer.Endpoint.StopAsync(CancellationToken.None));
        await WaitForNoConnectionThreadsAsync(server.Endpoint);
        await WaitForNoConnectionThreadsAsync(dialer.Endpoint);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"stop took {stopwatch.Elapsed}");
        await server.DisposeAsync();
        await dialer.DisposeAsync();
    }

    private static async Task BurstAsync(TestNode from, NeighbourId to, TestNode receiver)
    {
        const int count = 200;
        const int size = 60 * 1024;
        var frame = new byte[size];
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                Assert.Equal(SendResult.Sent, await from.Endpoint.SendAsync(to, frame, CancellationToken.None));
            }
        });

        // The receiver pauses, then resumes.
        await Task.Delay(300);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(size, (await receiver.NextFrameAsync()).Bytes.Length);
        }

        await sending.WaitAsync(Inet.Timeout);
    }

    /// <summary>Round trips driven by two dedicated threads, each waiting for its frame without the pool.</summary>
    private static void PingPong(TestNode a, NeighbourId bOnA, TestNode b, NeighbourId aOnB)
    {
        var frame = new byte[64];
        Exception? failure = null;
        var echo = new Thread(() =>
        {
            try
            {
                for (var i = 0; i < RoundTrips; i++)
                {
                    Take(b);
                    Send(b, aOnB, frame);
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        var ping = new Thread(() =>
        {
            try
            {
                for (var i = 0; i < RoundTrips; i++)
                {
                    Send(a, bOnA, frame);
                    Take(a);
                }
            }
            catch (Exception e)
            {
                failure ??= e;
            }
        });
        echo.Start();
        ping.Start();
        Assert.True(ping.Join(Inet.Timeout) && echo.Join(Inet.Timeout), "the round trips did not finish");
        Assert.Null(failure);
    }

    private static void Send(TestNode node, NeighbourId to, byte[] frame)
    {
        var sending = node.Endpoint.SendAsync(to, frame, CancellationToken.None);
        var result = sending.IsCompletedSuccessfully ? sending.Result : sending.AsTask().GetAwaiter().GetResult();
        Assert.Equal(SendResult.Sent, result);
    }

    private static void Take(TestNode node)
    {
        var incoming = node.Endpoint.Incoming;
        InboundFrame frame;
        while (!incoming.TryRead(out frame))
        {
            // Incoming runs a waiting reader's continuation on the receive thread: the wait
            // ends without a pool thread.
            using var timeout = new CancellationTokenSource(Inet.Timeout);
            var waiting = incoming.WaitToReadAsync(timeout.Token);
            if (!(waiting.IsCompletedSuccessfully ? waiting.Result : waiting.AsTask().GetAwaiter().GetResult()))
            {
                throw new InvalidOperationException("Incoming completed");
            }
        }

        frame.Release();
    }

    private static int UnusedPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Inet.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not come true in time");
            await Task.Delay(10);
        }
    }

    private static Task WaitForNoConnectionThreadsAsync(InetEndpoint endpoint) =>
        WaitUntilAsync(() => endpoint.ConnectionThreads == 0);
}
