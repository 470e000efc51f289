using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

[CollectionDefinition(nameof(AllocationTests), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// The frame paths must not allocate per frame. Alone in its collection so no other test's
/// allocations are counted (the count is process-wide).
/// </summary>
[Collection(nameof(AllocationTests))]
public sealed class AllocationTests
{
    [Fact]
    public async Task SendAndReceive_SteadyState_AllocateAlmostNothingPerFrame()
    {
        await using var b = await TestNode.StartAsync(Inet.FastSettings());
        await using var a = await TestNode.StartAsync(Inet.FastSettings(b.ListenAddress));
        var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
        await b.ExpectUpAsync(a.Address);
        var frame = new byte[512];

        await PumpAsync(a, b, bOnA, frame, 2_000);
        const int frames = 20_000;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await PumpAsync(a, b, bOnA, frame, frames);
        var perFrame = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)frames;

        // One boxed state machine or task per frame would cost 72+ bytes, one frame buffer 536.
        // What remains (8-22 bytes measured) is this test's own channel waits, 96 bytes each.
        Assert.True(perFrame < 48, $"{perFrame:F1} bytes allocated per frame");
    }

    // Frames in flight: a receiver that keeps up, as the router's switch does. Deeper queues
    // outgrow what the SDK's FrameBuffers pool (ArrayPool.Shared) retains per size, and then
    // frame buffers are allocated; that is the pool's limit, not this netmod's.
    private const int Window = 16;

    private static async Task PumpAsync(TestNode a, TestNode b, NeighbourId target, byte[] frame, int count)
    {
        var received = 0;
        var failed = 0;
        var receiving = Task.Run(async () =>
        {
            var reader = b.Endpoint.Incoming;
            while (received < count && await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var inbound))
                {
                    inbound.Release();
                    Interlocked.Increment(ref received);
                }
            }
        });
        // Off the test framework's synchronization context, whose posts allocate.
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                while (i - Volatile.Read(ref received) > Window)
                {
                    await Task.Yield();
                }

                if (await a.Endpoint.SendAsync(target, frame, CancellationToken.None) != SendResult.Sent)
                {
                    failed++;
                }
            }
        });

        await sending.WaitAsync(Inet.Timeout);
        await receiving.WaitAsync(Inet.Timeout);
        Assert.Equal(0, failed);
    }
}
