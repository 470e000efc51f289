using System.Buffers.Binary;
using System.Net;
using Router.Sdk;
using Router.Sdk.Testing;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// <see cref="IIpInterfaceFeature.OnPacketsWritten"/> on a real TUN device: the echo reply the
/// kernel makes inside a write is read and handled on the writing thread while the reader
/// sleeps; packets keep their order with both threads reading; the writer leaves the device to
/// the reader when the router is behind; stop races it safely. The device's own address is
/// pinged through the device, so every request written comes back as a reply. Needs root.
/// </summary>
public sealed class ReadAfterWritesTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly IPAddress Device = IPAddress.Parse("10.66.1.1");
    private static readonly IPAddress Peer = IPAddress.Parse("10.66.1.2");

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task OnPacketsWritten_TheKernelsEchoReply_IsHandledOnTheWritingThread(bool offload)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, TunDeviceTests.Settings("mesha0", offload, ["10.66.1.1/24"]));
        await using var replies = Replies.Consume(node.Netmod);

        // Each reply is in the device when its write returns, and wakes the reader too: on an
        // idle core the reader wins that race about half the time here (the router's writer,
        // with less between its write and the call, more often). So: write until the writer
        // has taken a few.
        const int Wanted = 3;
        const int MaxRequests = 200;
        var requests = 0;
        var taken = 0;
        var writer = await OnThreadAsync(() =>
        {
            while (taken < Wanted && requests < MaxRequests)
            {
                // Long enough for the reader to go back to sleep in poll().
                Thread.Sleep(10);
                Write(node, (ushort)requests);
                node.Netmod.OnPacketsWritten();

                // Handled inside the call when the writer read it.
                if (replies.HandledOn((ushort)requests, Environment.CurrentManagedThreadId))
                {
                    taken++;
                }

                requests++;
            }
        });

        output.WriteLine($"offload {offload}: {taken} of {requests} replies handled on the writing thread");
        Assert.True(taken == Wanted, $"{taken} of {requests} replies handled on the writing thread");
        var seen = await replies.WaitForAsync(requests);
        Assert.Equal(Enumerable.Range(0, requests), seen.Select(r => (int)r.Sequence));
        Assert.Equal(Wanted, seen.Count(r => r.ThreadId == writer));
        Assert.True(node.Netmod.Counters.ReadAfterWrites >= Wanted);
    }

    [RootFact]
    public async Task OnPacketsWritten_BatchesWhileTheReaderReadsToo_EveryReplyArrivesOnceAndInOrder()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, TunDeviceTests.Settings("mesho0", offload: true, ["10.66.1.1/24"]));
        await using var replies = Replies.Consume(node.Netmod);
        const int Requests = 3000;

        await OnThreadAsync(() =>
        {
            for (var i = 0; i < Requests; i++)
            {
                Write(node, (ushort)i);
                if (i % 10 == 9)
                {
                    node.Netmod.OnPacketsWritten();
                }
            }
        });

        var seen = await replies.WaitForAsync(Requests);
        Assert.Equal(Enumerable.Range(0, Requests), seen.Select(r => (int)r.Sequence));
        Assert.True(node.Netmod.Counters.ReadAfterWrites > 0);
        var stats = Assert.Single(await ns.IpJsonAsync("-s link show dev mesho0")).GetProperty("stats64").GetProperty("tx");
        Assert.Equal(0, stats.GetProperty("dropped").GetInt64());
    }

    [RootFact]
    public async Task OnPacketsWritten_WhileFramesWaitInTheChannel_LeavesTheAnswerToTheReader()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, TunDeviceTests.Settings("meshb0", offload: false, ["10.66.1.1/24"]));

        // Nothing consumes the channel: five datagrams wait in it, and the reader sleeps again.
        var (code, output) = await ns.ExecAsync(TunNode.Timeout, "python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(5):
                s.sendto(b"waiting" * 10, ("10.66.1.2", 9999))
            """);
        Assert.True(code == 0, output);
        await Eventually.TrueAsync(() => node.Netmod.Counters.PacketsRead >= 5, "the datagrams are read", TunNode.Timeout);
        await Task.Delay(100);

        // The router is behind: the writer must neither read nor wait.
        await OnThreadAsync(() =>
        {
            Write(node, 7);
            node.Netmod.OnPacketsWritten();
        }).WaitAsync(TunNode.Timeout);

        Assert.Equal(0, node.Netmod.Counters.ReadAfterWrites);
        var reply = await node.NextFrameAsync(f => Replies.TryParse(f.AsSpan(VirtioNetHeader.Size), out var sequence) && sequence == 7);
        Assert.NotEmpty(reply);
    }

    [RootFact]
    public async Task OnPacketsWritten_RacingStop_NeverThrowsAndEndsWithTheReader()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, TunDeviceTests.Settings("meshr0", offload: true, ["10.66.1.1/24"]));
        await using var replies = Replies.Consume(node.Netmod);
        var stopped = 0;
        var writers = Enumerable.Range(0, 4).Select(w => OnThreadAsync(() =>
        {
            var deadline = DateTime.UtcNow + TunNode.Timeout;
            for (var i = 0; Volatile.Read(ref stopped) == 0 && DateTime.UtcNow < deadline; i++)
            {
                var result = node.Netmod.SendAsync(new NeighbourId(0), Packets.Frame(VirtioNetHeader.None, Packets.EchoRequest(Peer, Device, (ushort)i)), CancellationToken.None).AsTask().GetAwaiter().GetResult();
                Assert.True(result is SendResult.Sent or SendResult.Stopped, $"writer {w}: {result}");
                node.Netmod.OnPacketsWritten();
            }
        })).ToList();

        await Eventually.TrueAsync(() => node.Netmod.Counters.ReadAfterWrites > 100, "writers read answers", TunNode.Timeout);
        await node.Netmod.StopAsync(CancellationToken.None);
        Volatile.Write(ref stopped, 1);
        await Task.WhenAll(writers).WaitAsync(TunNode.Timeout);

        // Stopped: a writer's call does nothing any more.
        var read = node.Netmod.Counters.PacketsRead;
        node.Netmod.OnPacketsWritten();
        Assert.Equal(read, node.Netmod.Counters.PacketsRead);
        Assert.False(node.Logs.Has(421));
        Assert.False(node.Logs.Has(420));
    }

    private static void Write(TunNode node, ushort sequence) =>
        Assert.Equal(SendResult.Sent, node.SendPacketAsync(Packets.EchoRequest(Peer, Device, sequence)).GetAwaiter().GetResult());

    /// <summary>Runs <paramref name="action"/> on a thread of its own (not the pool's); the task gives that thread's managed id.</summary>
    private static Task<int> OnThreadAsync(Action action)
    {
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                action();
                done.SetResult(Environment.CurrentManagedThreadId);
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { IsBackground = true };
        thread.Start();
        return done.Task;
    }

    /// <summary>Consumes the netmod's channel as the router does, noting each echo reply and the thread that handled it.</summary>
    private sealed class Replies : IFrameHandler, IAsyncDisposable
    {
        private readonly List<(ushort Sequence, int ThreadId)> _seen = [];
        private readonly CancellationTokenSource _stop = new();
        private Task _consuming = Task.CompletedTask;

        public static Replies Consume(TunInterface netmod)
        {
            var replies = new Replies();
            replies._consuming = ((FrameChannelReader)netmod.Incoming).ConsumeAsync(replies, replies._stop.Token);
            return replies;
        }

        /// <summary>Reads the sequence number of an echo reply from <see cref="Device"/> to <see cref="Peer"/>.</summary>
        public static bool TryParse(ReadOnlySpan<byte> packet, out ushort sequence)
        {
            sequence = 0;
            if (packet.Length < 28 || packet[0] != 0x45 || packet[9] != 1 || packet[20] != 0
                || !new IPAddress(packet.Slice(12, 4)).Equals(Device) || !new IPAddress(packet.Slice(16, 4)).Equals(Peer))
            {
                return false;
            }

            sequence = BinaryPrimitives.ReadUInt16BigEndian(packet[26..]);
            return true;
        }

        public ValueTask HandleAsync(InboundFrame frame)
        {
            if (TryParse(frame.Span[VirtioNetHeader.Size..], out var sequence))
            {
                lock (_seen)
                {
                    _seen.Add((sequence, Environment.CurrentManagedThreadId));
                }
            }

            frame.Release();
            return ValueTask.CompletedTask;
        }

        /// <summary>Whether the reply numbered <paramref name="sequence"/> has been handled, on the thread <paramref name="threadId"/>.</summary>
        public bool HandledOn(ushort sequence, int threadId)
        {
            lock (_seen)
            {
                return _seen.Contains((sequence, threadId));
            }
        }

        /// <summary>The replies in the order handled, once <paramref name="count"/> have been.</summary>
        public async Task<List<(ushort Sequence, int ThreadId)>> WaitForAsync(int count)
        {
            await Eventually.TrueAsync(() => Count >= count, $"{count} echo replies", TunNode.Timeout);
            lock (_seen)
            {
                return [.. _seen];
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _consuming;
            }
            catch (OperationCanceledException)
            {
            }

            _stop.Dispose();
        }

        private int Count
        {
            get
            {
                lock (_seen)
                {
                    return _seen.Count;
                }
            }
        }
    }
}
