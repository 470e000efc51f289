using System.Runtime.InteropServices;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// A kernel that refuses segmented sends: in a namespace of the test's own whose loopback MTU
/// (1,300) is below the stride of 1,400-byte frames, UDP_SEGMENT fails (EMSGSIZE; EINVAL before Linux 6.x). The socket
/// must say so once (warning 353) and send every run one datagram per call from then on (IP
/// fragments them), losing nothing.
/// </summary>
public sealed partial class SegmentationFallbackTests(ITestOutputHelper output)
{
    private const int FrameSize = 1400;
    private const int CloneNewNet = 0x40000000;

    [NetnsFact]
    public async Task SendRunAsync_KernelRefusesSegmentation_WarnsOnceAndSendsEachDatagramAlone()
    {
        var ns = $"udpseg-{Environment.ProcessId % 100000:x5}";
        await Ip.RunAsync($"netns add {ns}");
        try
        {
            await Ip.RunAsync($"-n {ns} link set lo mtu 1300 up");

            // Sockets belong to the namespace of the thread that creates them: start both
            // endpoints (which bind in StartAsync's synchronous part) from a thread inside it.
            await using var nodeB = await InNamespaceAsync(ns, () => Start(Udp.FastSettings()));
            await using var nodeA = await InNamespaceAsync(ns, () => Start(Udp.FastSettings(nodeB.ListenAddress)));
            var bOnA = (await nodeA.ExpectUpAsync(nodeB.Address)).Neighbour;
            await nodeB.ExpectUpAsync(nodeA.Address);
            var stride = nodeA.Endpoint.FrameHeadroom + FrameSize;

            for (var round = 0; round < 2; round++)
            {
                var frames = Enumerable.Range(0, 10).Select(i => Enumerable.Repeat((byte)((round * 10) + i), FrameSize).ToArray()).ToList();
                var run = new byte[frames.Count * stride];
                for (var i = 0; i < frames.Count; i++)
                {
                    frames[i].CopyTo(run, (i * stride) + 1);
                }

                Assert.Equal(SendResult.Sent, await nodeA.Endpoint.SendRunAsync(bOnA, run, stride, CancellationToken.None));
                foreach (var frame in frames)
                {
                    Assert.Equal(frame, (await nodeB.NextFrameAsync()).Bytes);
                }
            }

            output.WriteLine($"a: {nodeA.Endpoint.Counters}");
            Assert.Equal(0, nodeA.Endpoint.Counters.SegmentedSends);
            Assert.Equal(0, nodeA.Endpoint.Counters.SendErrors);
            Assert.Single(nodeA.Logs.Entries, e => e.Id.Id == 353);
            Assert.Contains("refused a segmented send", nodeA.Logs.Entries.Single(e => e.Id.Id == 353).Message, StringComparison.Ordinal);
        }
        finally
        {
            await Ip.TryRunAsync($"netns del {ns}");
        }
    }

    private static TestNode Start(Dictionary<string, string?> settings)
    {
        settings["Offload"] = "true";
        return TestNode.StartAsync(settings).GetAwaiter().GetResult();
    }

    private static Task<T> InNamespaceAsync<T>(string ns, Func<T> action)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/var/run/netns/{ns}"))
                {
                    if (SetNs((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                    {
                        throw new IOException($"setns into {ns} failed: errno {Marshal.GetLastPInvokeError()}");
                    }
                }

                result.SetResult(action());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = $"in {ns}",
        };
        thread.Start();
        return result.Task;
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nsType);
}
