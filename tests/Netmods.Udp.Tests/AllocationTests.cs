using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Udp.Tests;

[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// The frame paths must not allocate per frame. Alone in its collection, which runs after the
/// others with nothing beside it, because the count is process-wide: receives run on the
/// netmod's receive threads (and the reader with them), so a per-thread count would miss them.
/// </summary>
[Collection(nameof(AllocationTests))]
public sealed class AllocationTests(ITestOutputHelper output)
{
    private const int Window = 32;

    [Fact]
    public async Task SendAndReceive_SteadyState_AllocateAlmostNothingPerFrame()
    {
        await using var b = await TestNode.StartAsync(Settings());
        await using var a = await TestNode.StartAsync(Settings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        var frame = new byte[1200];

        await PumpAsync(a, b, bOnA, frame, 2_000);

        // Whatever else the process allocates meanwhile (the test runner reporting other
        // results, timers) only adds: the quietest of three rounds is the honest figure.
        const int frames = 10_000;
        var perFrame = double.MaxValue;
        var lost = 0;
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            lost += await PumpAsync(a, b, bOnA, frame, frames);
            var bytes = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)frames;
            output.WriteLine($"round {round}: {bytes:F2} bytes allocated per frame over {frames} frames of {frame.Length} bytes");
            perFrame = Math.Min(perFrame, bytes);
        }

        // One boxed state machine, task or SocketAddress per frame would cost 24 to 100+ bytes;
        // what remains (about 2 bytes measured, Debug and Release alike) is this test's own
        // waiting, the control loop's timer, and the runtime's thread pool.
        Assert.True(perFrame < 8, $"{perFrame:F1} bytes allocated per frame ({lost} lost)");
        Assert.True(lost <= 3 * frames / 1000, $"{lost} of {3 * frames} frames lost on loopback");
    }

    /// <summary>
    /// The control loop's tick runs every eighth of a second with these (not every 12 ms, as
    /// with the fast test settings): what it allocates in a Debug build is per tick, not per
    /// frame, and should not be charged to frames on a slow machine.
    /// </summary>
    private static Dictionary<string, string?> Settings(params string[] peers)
    {
        var settings = Udp.FastSettings(peers);
        settings["KeepaliveSeconds"] = "1";
        settings["ReconnectMinSeconds"] = "0.5";
        return settings;
    }

    /// <summary>
    /// Sends <paramref name="count"/> frames from a to b, at most <see cref="Window"/> in flight,
    /// reading them at b on another thread. UDP may drop: when nothing arrives for a second the
    /// sender stops waiting for what is missing. Returns the number lost.
    /// </summary>
    private static async Task<int> PumpAsync(TestNode a, TestNode b, NeighbourId target, byte[] frame, int count)
    {
        var received = 0;
        var stop = 0;
        var failed = 0;
        var receiving = Task.Run(async () =>
        {
            // No cancellation token: a cancellable wait allocates a waiter every time it waits.
            var reader = b.Endpoint.Incoming;
            while (Volatile.Read(ref stop) == 0 && await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var inbound))
                {
                    inbound.Release();
                    Interlocked.Increment(ref received);
                }
            }
        });

        var written = 0;
        var given = 0;
        var stalledSince = Environment.TickCount64;
        var lastSeen = 0;
        for (var i = 0; i < count; i++)
        {
            while (i - given - Volatile.Read(ref received) > Window)
            {
                var seen = Volatile.Read(ref received);
                if (seen != lastSeen)
                {
                    (lastSeen, stalledSince) = (seen, Environment.TickCount64);
                }
                else if (Environment.TickCount64 - stalledSince > 1000)
                {
                    // Lost in flight; stop waiting for it.
                    given = i - seen;
                    break;
                }

                await Task.Yield();
            }

            if (await a.Endpoint.SendAsync(target, frame, CancellationToken.None) == SendResult.Sent)
            {
                written++;
            }
            else
            {
                failed++;
            }
        }

        stalledSince = Environment.TickCount64;
        while (Volatile.Read(ref received) < written && Environment.TickCount64 - stalledSince < 1000)
        {
            await Task.Yield();
        }

        // Wake the reader so it sees the stop flag; each wake is one more frame, maybe lost too.
        var lost = count - Volatile.Read(ref received);
        Volatile.Write(ref stop, 1);
        var deadline = DateTime.UtcNow + Udp.Timeout;
        while (!receiving.IsCompleted && DateTime.UtcNow < deadline)
        {
            await a.Endpoint.SendAsync(target, frame, CancellationToken.None);
            await Task.WhenAny(receiving, Task.Delay(10));
        }

        await receiving.WaitAsync(Udp.Timeout);
        Assert.Equal(0, failed);
        return lost;
    }
}
