using System.Buffers.Binary;
using System.Diagnostics;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>
/// The run-to-completion frame paths: the direct send on the caller's thread with the write
/// loop taking over when the socket is full, and the receive thread per connection.
/// </summary>
public sealed class FramePathTests
{
    [Fact]
    public async Task Receive_FramesInTheSameSegmentAsTheHello_AreDelivered()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);

        // Hello, a keepalive and three frames in one write: the handshake's read takes them all.
        var frames = new[] { Payload(1, 3), Payload(2, 1000), Payload(3, 70_000) };
        await raw.SendAsync([.. RawPeer.Hello(address), .. Encode([]), .. frames.SelectMany(Encode)]);

        var up = await server.ExpectUpAsync(address);
        foreach (var expected in frames)
        {
            var (from, bytes) = await server.NextFrameAsync();
            Assert.Equal(up.Neighbour, from);
            Assert.Equal(expected, bytes);
        }
    }

    [Theory]
    [InlineData(8192)]
    [InlineData(131072)]
    [InlineData(1048576)]
    public async Task Receive_FramesOfManySizesInRandomPieces_AreDeliveredWhole(int maxFrameSize)
    {
        // Exercises both receive paths: short frames parsed from the linear buffer (straddling
        // its end, moved to the front), long ones received into their own buffers from wherever
        // their header was seen, with the bytes behind them in the same call; 8 KiB frames sit
        // on both sides of the line between them, and 1 MiB ones outgrow their first buffer.
        var settings = Inet.FastSettings();
        settings["MaxFrameSize"] = maxFrameSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var server = await TestNode.StartAsync(settings);
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        await raw.SendAsync(RawPeer.Hello(address, maxFrameSize));
        await server.ExpectUpAsync(address);

        var random = new Random(maxFrameSize);
        var frames = new List<byte[]>();
        for (var i = 0; i < 60; i++)
        {
            var size = (i % 4) switch
            {
                0 => maxFrameSize,
                1 => random.Next(1, 200),
                _ => random.Next(1, maxFrameSize + 1),
            };
            frames.Add(Payload(i, size));
        }

        var stream = frames.SelectMany(Encode).ToArray();
        var reading = Task.Run(async () =>
        {
            foreach (var expected in frames)
            {
                Assert.Equal(expected, (await server.NextFrameAsync()).Bytes);
            }
        });
        for (var offset = 0; offset < stream.Length;)
        {
            var piece = Math.Min(stream.Length - offset, random.Next(1, 200_000));
            await raw.SendAsync(stream[offset..(offset + piece)]);
            offset += piece;
        }

        await reading.WaitAsync(Inet.Timeout);
    }

    [Fact]
    public async Task Receive_ReaderWaitingOnIncoming_RunsOnTheConnectionsReceiveThread()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);

        // Incoming lets a waiting reader continue on the writer's thread; the writer is now the
        // thread that read the socket, not a pool thread woken by the socket engine.
        var threads = new List<string?>();
        var reader = Task.Run(async () =>
        {
            while (threads.Count < 5 && await b.Endpoint.Incoming.WaitToReadAsync().ConfigureAwait(false))
            {
                threads.Add(Thread.CurrentThread.Name);
                while (b.Endpoint.Incoming.TryRead(out var frame))
                {
                    frame.Release();
                }
            }
        });
        for (var i = 0; i < 5; i++)
        {
            // Spaced out, so the reader is waiting when each one arrives.
            await Task.Delay(100);
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, Payload(i, 100), CancellationToken.None));
        }

        await reader.WaitAsync(Inet.Timeout);
        Assert.Contains(threads, name => name?.StartsWith("inet rx ", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Send_ReceiverPausesWhileManyLargeFramesAreSent_AllArriveOnceInOrder()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        const int count = 2_000;
        const int size = 60 * 1024;

        // More than b's Incoming (1,024 frames), both socket buffers and a's send queue hold:
        // direct sends meet a full socket, leave remainders, the queue fills, senders wait.
        var sent = 0;
        var sending = Task.Run(async () =>
        {
            var frame = new byte[size];
            for (var i = 0; i < count; i++)
            {
                Fill(frame, i);
                Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, frame, CancellationToken.None));
                Volatile.Write(ref sent, i + 1);
            }
        });
        await WaitUntilStalledAsync(() => Volatile.Read(ref sent), sending);
        Assert.False(sending.IsCompleted, $"all {count} frames were taken while the receiver was not reading");

        for (var i = 0; i < count; i++)
        {
            var (_, bytes) = await b.NextFrameAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(size, bytes.Length);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(bytes));
            Assert.True(IsFilled(bytes, i), $"frame {i} is corrupt");
        }

        await sending.WaitAsync(Inet.Timeout);
        Assert.False(b.Endpoint.Incoming.TryRead(out _));
    }

    [Fact]
    public async Task Send_ConcurrentSendersOnSeveralThreads_EachFrameOnceInItsSendersOrder()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        const int senders = 4;
        const int perSender = 3_000;

        var next = new int[senders];
        var receiving = Task.Run(async () =>
        {
            for (var received = 0; received < senders * perSender; received++)
            {
                var (_, bytes) = await b.NextFrameAsync();
                var sender = bytes[0];
                var sequence = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1));
                Assert.True(sender < senders, $"unknown sender {sender}");
                Assert.Equal(next[sender], sequence);
                Assert.True(IsFilled(bytes.AsSpan(5), (sender * perSender) + sequence), $"frame {sequence} of sender {sender} is corrupt");
                next[sender]++;
            }
        });

        // Real threads, each sending as fast as it can: the direct path and the queue race for
        // the socket all the time. Sizes vary so frames straddle the socket's free space.
        var failures = 0;
        var threads = Enumerable.Range(0, senders).Select(sender => new Thread(() =>
        {
            var random = new Random(sender);
            var frame = new byte[9000];
            for (var i = 0; i < perSender; i++)
            {
                var length = random.Next(5, frame.Length + 1);
                frame[0] = (byte)sender;
                BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), i);
                Fill(frame.AsSpan(5, length - 5), (sender * perSender) + i);
                var pending = a.Endpoint.SendAsync(bOnA, frame.AsMemory(0, length), CancellationToken.None);
                var result = pending.IsCompleted ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
                if (result != SendResult.Sent)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })
        { IsBackground = true }).ToList();
        threads.ForEach(t => t.Start());
        var joined = Task.Run(() => threads.TrueForAll(t => t.Join(TimeSpan.FromSeconds(30))));

        // A receiver that failed stops reading, and then the senders wait for ever: report it.
        await Task.WhenAny(receiving, joined);
        if (receiving.IsFaulted)
        {
            await receiving;
        }

        Assert.True(await joined, "a sender did not finish");
        await receiving.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, failures);
        Assert.All(next, n => Assert.Equal(perSender, n));
    }

    [Fact]
    public async Task Stop_WhileTheReceiveThreadWaitsForRoomInIncoming_EndsPromptly()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);

        // Fill b's Incoming (1,024 frames) and then some: b's receive thread holds the next
        // frame in a pooled buffer, waiting for room that never comes.
        for (var i = 0; i < 1_100; i++)
        {
            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, Payload(i, 100), CancellationToken.None));
        }

        await Eventually.TrueAsync(() => b.Endpoint.Incoming.Count == 1024, "b's incoming channel is full");
        var stopwatch = Stopwatch.StartNew();
        await b.Endpoint.StopAsync(CancellationToken.None).WaitAsync(Inet.Timeout);
        stopwatch.Stop();

        // StopAsync waits for each connection's receive thread to end before releasing it, and
        // gives up (event 151) after 5 s.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"stop took {stopwatch.Elapsed}");
        Assert.False(b.Logs.Has(151), "stop timed out waiting for a connection");
        Assert.Equal(0, b.Endpoint.LiveConnections);

        // What was delivered before the stop is still there to read (and release), in order.
        for (var i = 0; i < 1024; i++)
        {
            Assert.True(b.Endpoint.Incoming.TryRead(out var frame));
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(frame.Span));
            frame.Release();
        }
    }

    [Fact]
    public async Task Receive_LengthAboveMaxBehindAValidFrame_DeliversThatFrameThenClosesAndCounts()
    {
        await using var server = await TestNode.StartAsync(Inet.FastSettings());
        var address = NetmodTestContext.RandomAddress();
        await using var raw = await RawPeer.ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        await raw.SendAsync(RawPeer.Hello(address));
        var up = await server.ExpectUpAsync(address);

        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, 131072 + 1);
        await raw.SendAsync([.. Encode(Payload(7, 500)), .. header, .. new byte[1000]]);
        await raw.ReadUntilClosedAsync();

        Assert.Equal(Payload(7, 500), (await server.NextFrameAsync()).Bytes);
        var down = await server.NextEventAsync();
        Assert.Equal(NeighbourEventKind.Down, down.Kind);
        Assert.Equal(up.Neighbour, down.Neighbour);
        Assert.Equal(1, server.Endpoint.Counters.FramesTooLarge);
        Assert.True(server.Logs.Has(130, m => m.Contains("131073-byte frame", StringComparison.Ordinal)));
        await Eventually.TrueAsync(() => server.Endpoint.LiveConnections == 0, "the connection is released");
    }

    /// <summary>A frame of <paramref name="size"/> bytes starting with <paramref name="id"/> (when it fits), filled from it.</summary>
    private static byte[] Payload(int id, int size)
    {
        var bytes = new byte[size];
        Fill(bytes, id);
        if (size >= 4)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes, id);
        }

        return bytes;
    }

    private static void Fill(Span<byte> bytes, int id)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)((id * 31) + i);
        }

        if (bytes.Length >= 4)
        {
            BinaryPrimitives.WriteInt32BigEndian(bytes, id);
        }
    }

    private static bool IsFilled(ReadOnlySpan<byte> bytes, int id)
    {
        for (var i = 4; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)((id * 31) + i))
            {
                return false;
            }
        }

        return bytes.Length < 4 || BinaryPrimitives.ReadInt32BigEndian(bytes) == id;
    }

    private static byte[] Encode(byte[] payload)
    {
        var frame = new byte[Framing.HeaderSize + payload.Length];
        Framing.WriteHeader(frame, (uint)payload.Length);
        payload.CopyTo(frame, Framing.HeaderSize);
        return frame;
    }

    /// <summary>Waits until <paramref name="progress"/> has not moved for half a second (or the work ended).</summary>
    private static async Task WaitUntilStalledAsync(Func<int> progress, Task work)
    {
        var deadline = DateTime.UtcNow + Inet.Timeout;
        var last = -1;
        while (!work.IsCompleted && DateTime.UtcNow < deadline)
        {
            var now = progress();
            if (now == last && now > 0)
            {
                return;
            }

            last = now;
            await Task.Delay(500);
        }
    }
}
