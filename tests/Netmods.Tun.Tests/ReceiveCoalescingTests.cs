using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// Receive coalescing (GRO) of what the netmod writes: seen from a packet socket inside the
/// namespace, which the kernel hands each packet after GRO, as the machine's TCP stack gets it.
/// </summary>
public sealed class ReceiveCoalescingTests
{
    private const int Mtu = 1500;
    private const int Segments = 16;
    private const int SegmentPayload = 1400;

    [RootTheory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task Write_ConsecutiveSegmentsOfAFlow_ReachTheMachineMergedIntoPacketsOverTheMtu(bool offload, bool ipv4)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var sysfs = await Sysfs.MountAsync(ns);
        await using var node = await TunNode.StartAsync(ns, Settings(offload, groMicroseconds: null), o => o with { InterfacesPath = sysfs.Interfaces });

        // The default: a NAPI context, and a GRO timeout of 4 ms on the device.
        Assert.Equal(0x10, Convert.ToInt32(sysfs.Read(node.Name, "tun_flags"), 16) & 0x10);
        Assert.Equal("4000000", sysfs.Read(node.Name, "gro_flush_timeout"));
        Assert.True(node.Logs.Has(400, m => m.Contains("GRO 4000 µs", StringComparison.Ordinal)));

        var seen = await WriteFlowAndCaptureAsync(ns, node, ipv4);
        Assert.True(seen.Max() > Mtu, $"the largest packet the machine got was {seen.Max()} bytes; lengths: {string.Join(", ", seen)}");
        Assert.Equal(Segments * SegmentPayload, seen.Sum(length => length - Headers(ipv4)));
    }

    [RootFact]
    public async Task Write_FlowPausesWithoutPush_HeldSegmentsGoUpWhenTheTimeoutEnds()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var sysfs = await Sysfs.MountAsync(ns);
        await using var node = await TunNode.StartAsync(ns, Settings(offload: false, groMicroseconds: null), o => o with { InterfacesPath = sysfs.Interfaces });

        // No segment carries PSH and nothing follows: only the timer (4 ms) hands them up. The
        // bound is loose on purpose (a slow machine); a segment never handed up fails it.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var seen = await WriteFlowAndCaptureAsync(ns, node, ipv4: true, push: false);
        Assert.Equal(Segments * SegmentPayload, seen.Sum(length => length - Headers(ipv4: true)));
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(2), $"the held segments took {started.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(seen.Max() > Mtu, $"the largest packet the machine got was {seen.Max()} bytes");
    }

    [RootFact]
    public async Task Write_GroTimeoutZero_EverySegmentReachesTheMachineAlone()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var sysfs = await Sysfs.MountAsync(ns);
        await using var node = await TunNode.StartAsync(ns, Settings(offload: false, groMicroseconds: 0), o => o with { InterfacesPath = sysfs.Interfaces });

        Assert.Equal(0, Convert.ToInt32(sysfs.Read(node.Name, "tun_flags"), 16) & 0x10);
        Assert.True(node.Logs.Has(400, m => m.Contains("GRO off", StringComparison.Ordinal)));
        var seen = await WriteFlowAndCaptureAsync(ns, node, ipv4: true);
        Assert.Equal(Enumerable.Repeat(Headers(ipv4: true) + SegmentPayload, Segments), seen);
    }

    [RootFact]
    public async Task Start_SysfsShowsAnotherNamespace_WarnsAndRunsWithoutTheNapiContext()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        using var sysfs = await Sysfs.MountAsync(ns);

        // The test process's own /sys: the host's interfaces, where this namespace's device is not.
        await using var node = await TunNode.StartAsync(ns, Settings(offload: false, groMicroseconds: 50), o => o with { InterfacesPath = "/sys/class/net" });

        Assert.True(node.Logs.Has(407, m => m.Contains(node.Name, StringComparison.Ordinal) && m.Contains("GroTimeoutMicroseconds", StringComparison.Ordinal)));
        Assert.True(node.Logs.Has(400, m => m.Contains("GRO off", StringComparison.Ordinal)));
        Assert.Equal(0, Convert.ToInt32(sysfs.Read(node.Name, "tun_flags"), 16) & 0x10);
        Assert.Equal("0", sysfs.Read(node.Name, "gro_flush_timeout"));
        var seen = await WriteFlowAndCaptureAsync(ns, node, ipv4: true);
        Assert.Equal(Segments * SegmentPayload, seen.Sum(length => length - Headers(ipv4: true)));
    }

    private static Dictionary<string, string?> Settings(bool offload, int? groMicroseconds)
    {
        var settings = TunDeviceTests.Settings("meshg0", offload, [], mtu: Mtu);
        if (groMicroseconds is { } value)
        {
            settings["GroTimeoutMicroseconds"] = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    /// <summary>IP and TCP header bytes of each segment (the test's packets carry 12 bytes of TCP options).</summary>
    private static int Headers(bool ipv4) => (ipv4 ? 20 : 40) + 32;

    /// <summary>
    /// Writes one TCP flow's <see cref="Segments"/> consecutive segments (the last with PSH
    /// unless <paramref name="push"/> is false) through the netmod and returns the length of
    /// each packet of it the namespace's packet socket saw, in order.
    /// </summary>
    private static async Task<List<int>> WriteFlowAndCaptureAsync(NetworkNamespace ns, TunNode node, bool ipv4, bool push = true)
    {
        // ETH_P_ALL in network order; a TUN device has no link header, so each frame is an IP packet.
        using var capture = await ns.RunInsideAsync(() => new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)0x0300) { ReceiveTimeout = 300 });
        var payload = new byte[SegmentPayload];
        Random.Shared.NextBytes(payload);
        for (var i = 0; i < Segments; i++)
        {
            var flags = (byte)(push && i == Segments - 1 ? 0x18 : 0x10);
            var packet = Packets.Tcp(ipv4, sequence: (uint)(1000 + (i * SegmentPayload)), flags, payload, identification: (ushort)(0x100 + i));
            Assert.Equal(SendResult.Sent, await node.SendPacketAsync(packet));
        }

        var lengths = new List<int>();
        var buffer = new byte[70_000];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        var total = 0;
        while (total < Segments * SegmentPayload && DateTime.UtcNow < deadline)
        {
            int received;
            try
            {
                received = capture.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TimedOut)
            {
                continue;
            }

            // Only the flow's packets: TCP to the test's destination port, over the IP version written.
            var (version, protocol, transport) = ipv4 ? (4, buffer[9], 20) : (6, buffer[6], 40);
            if (received >= Headers(ipv4) && buffer[0] >> 4 == version && protocol == 6 && buffer[transport + 2] == 5201 >> 8 && buffer[transport + 3] == (5201 & 0xff))
            {
                lengths.Add(received);
                total += received - Headers(ipv4);
            }
        }

        return lengths;
    }
}
