using System.Buffers.Binary;
using System.Net;
using System.Text.Json;
using Router.Sdk;

namespace Router.Netmods.Tun.Tests;

/// <summary>
/// Real TUN devices inside network namespaces the tests create: what start sets up, packets
/// both ways, routes, stop, and every way start can fail. Needs root; skipped otherwise. The
/// state of the kernel is read with iproute2, independently of the netmod's netlink code.
/// </summary>
public sealed class TunDeviceTests
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(20);

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Start_InNamespace_CreatesTheDeviceUpWithItsMtuQueueAndAddresses(bool offload)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshx0", offload, ["10.66.1.1/24", "fd00:66::1/64"], mtu: 1400, txQueueLength: 2000));

        var link = Assert.Single(await ns.IpJsonAsync("-d link show dev meshx0"));
        Assert.Equal(1400, link.GetProperty("mtu").GetInt32());
        Assert.Equal(2000, link.GetProperty("txqlen").GetInt32());
        Assert.Contains("UP", link.GetProperty("flags").EnumerateArray().Select(f => f.GetString()));
        var info = link.GetProperty("linkinfo");
        Assert.Equal("tun", info.GetProperty("info_kind").GetString());
        Assert.Equal("tun", info.GetProperty("info_data").GetProperty("type").GetString());
        Assert.False(info.GetProperty("info_data").GetProperty("pi").GetBoolean());
        Assert.Equal(offload, info.GetProperty("info_data").GetProperty("vnet_hdr").GetBoolean());

        var addresses = Assert.Single(await ns.IpJsonAsync("addr show dev meshx0")).GetProperty("addr_info").EnumerateArray()
            .Select(a => $"{a.GetProperty("local").GetString()}/{a.GetProperty("prefixlen").GetInt32()}")
            .ToList();
        Assert.Equal(
            new[] { $"{node.Netmod.Overlay}/16", "10.66.1.1/24", "fd00:66::1/64" }.Order(),
            addresses.Order());
        Assert.StartsWith("fd6d:", node.Netmod.Overlay.ToString(), StringComparison.Ordinal);

        // No DAD: the IPv6 addresses are usable at once, not tentative.
        var tentative = (await ns.IpJsonAsync("-6 addr show dev meshx0 tentative")).SelectMany(l => l.GetProperty("addr_info").EnumerateArray());
        Assert.Empty(tentative);

        // The kernel routes the overlay /16 and the configured networks into the device.
        var routes = (await ns.IpJsonAsync("route show dev meshx0")).Concat(await ns.IpJsonAsync("-6 route show dev meshx0"))
            .Select(r => r.GetProperty("dst").GetString())
            .ToList();
        Assert.Contains("fd6d::/16", routes);
        Assert.Contains("10.66.1.0/24", routes);
        Assert.Contains("fd00:66::/64", routes);
        Assert.True(node.Logs.Has(400, m => m.Contains("meshx0", StringComparison.Ordinal)));

        // Starting again does nothing (here, on a thread of the test's own namespace, it would show).
        await node.Netmod.StartAsync(CancellationToken.None);
        Assert.DoesNotContain("meshx0", await Ip.RunAsync("link show"), StringComparison.Ordinal);
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Ping_ThroughTheDevice_RequestComesOutOfIncomingAndTheReplyWrittenBackArrives(bool offload)
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshp0", offload, ["10.66.1.1/24"]));
        var overlayPeer = IPAddress.Parse("fd6d:aaaa:bbbb::42");

        foreach (var target in new[] { IPAddress.Parse("10.66.1.2"), overlayPeer })
        {
            await using var ping = ns.Start("ping", "-c", "1", "-W", "10", target.ToString());

            var frame = await node.NextFrameAsync(f => IsEchoRequest(f, target));
            Assert.False(VirtioNetHeader.Read(frame).IsGso);
            var request = frame.AsSpan(VirtioNetHeader.Size).ToArray();
            Assert.Equal(SendResult.Sent, await node.SendPacketAsync(Packets.EchoReply(request)));

            Assert.True(await ping.WaitForExitAsync(ProcessTimeout) == 0, $"ping {target} failed:\n{ping.Transcript}");
        }

        Assert.True(node.Netmod.Counters.PacketsRead >= 2);
        Assert.True(node.Netmod.Counters.PacketsWritten >= 2);
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Read_LeavesTheHeadroomTheRouterAsksFor_InFrontOfEachPacket(bool offload)
    {
        // The router's packet gateway builds its frame around a packet read this far into its buffer.
        const int headroom = 94;
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshh0", offload, ["10.66.1.1/24"]), headroom: headroom);
        var target = IPAddress.Parse("10.66.1.2");
        await using var ping = ns.Start("ping", "-c", "3", "-i", "0.2", "-W", "1", target.ToString());

        using var cts = new CancellationTokenSource(TunNode.Timeout);
        while (true)
        {
            var frame = await node.Netmod.Incoming.ReadAsync(cts.Token);
            try
            {
                var bytes = frame.Span.ToArray();
                if (!IsEchoRequest(bytes, target))
                {
                    continue;
                }

                Assert.Equal(headroom, frame.Offset);
                Assert.True(frame.Offset + frame.Length <= frame.Buffer.Length);
                Assert.Equal(VirtioNetHeader.None, VirtioNetHeader.Read(bytes));
                Assert.Equal(IPAddress.Parse("10.66.1.1"), new IPAddress(bytes.AsSpan(VirtioNetHeader.Size + 12, 4)));
                Assert.Equal(bytes.Length - VirtioNetHeader.Size, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(VirtioNetHeader.Size + 2)));
                break;
            }
            finally
            {
                frame.Release();
            }
        }
    }

    [RootFact]
    public async Task Read_KernelChecksumPartialPackets_CarryThePseudoHeaderSumAndCompleteToValidChecksums()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshc0", offload: true, ["10.66.1.1/24", "fd00:66::1/64"]));

        // A UDP datagram over IPv4 and over IPv6, and a TCP SYN: sockets on a device with
        // checksum offload leave the checksum to the device (CHECKSUM_PARTIAL).
        const string Send = """
            import socket, sys
            for host in ("10.66.1.2", "fd00:66::2"):
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                socket.socket(family, socket.SOCK_DGRAM).sendto(b"checksum convention" * 7, (host, 9999))
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("10.66.1.2", 80))
            except BlockingIOError:
                pass
            """;
        var (code, output) = await ns.ExecAsync(ProcessTimeout, "python3", "-c", Send);
        Assert.True(code == 0, output);

        foreach (var (ipv4, protocol) in new[] { (true, IpPacket.Udp), (false, IpPacket.Udp), (true, IpPacket.Tcp) })
        {
            var frame = await node.NextFrameAsync(f => f[VirtioNetHeader.Size] >> 4 == (ipv4 ? 4 : 6) && ReferenceChecksum.Transport(f.AsSpan(VirtioNetHeader.Size)).Protocol == protocol);
            var header = VirtioNetHeader.Read(frame);
            var packet = frame.AsSpan(VirtioNetHeader.Size).ToArray();
            var (transport, _, length) = ReferenceChecksum.Transport(packet);
            var checksumOffset = protocol == IpPacket.Tcp ? 16 : 6;

            Assert.True(header.NeedsChecksum, $"{(ipv4 ? "IPv4" : "IPv6")} protocol {protocol}: {header}");
            Assert.Equal(transport, header.ChecksumStart);
            Assert.Equal(checksumOffset, header.ChecksumOffset);

            // The convention: the field holds the folded pseudo-header sum, not complemented.
            Assert.Equal(
                ReferenceChecksum.PseudoHeader(packet, protocol, length - transport),
                BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(transport + checksumOffset)));

            Assert.Equal(length, ChecksumCompletion.TryComplete(packet, header, out var problem));
            Assert.Null(problem);
            Assert.True(ReferenceChecksum.TransportVerifies(packet));
        }
    }

    [RootFact]
    public async Task Read_RouterNotReading_ReaderWaitsForRoomAndNoPacketIsLost()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshq0", offload: false, ["10.66.1.1/24"]));
        const int Datagrams = 3000;

        // More than the incoming channel holds (1024), fewer than the device queues (10000).
        await SendNumberedDatagramsAsync(ns, Datagrams);

        // The reader fills the channel and waits for room with one more packet in hand; it has
        // also read the one after that if it had arrived by then (to tell whether more follow).
        // It reads nothing more while it waits, and drops nothing.
        await Eventually.TrueAsync(() => node.Netmod.Counters.IncomingFullWaits > 0, "the reader waits for room", TunNode.Timeout);
        await Task.Delay(200);
        Assert.InRange(node.Netmod.Counters.PacketsRead, 1025, 1026);

        var seen = new HashSet<int>();
        while (seen.Count < Datagrams)
        {
            var frame = await node.NextFrameAsync(f => f.Length == VirtioNetHeader.Size + 20 + 8 + 100 && f[VirtioNetHeader.Size + 9] == IpPacket.Udp);
            seen.Add(BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(VirtioNetHeader.Size + 28)));
        }

        Assert.Equal(Datagrams, seen.Count);
        var stats = Assert.Single(await ns.IpJsonAsync("-s link show dev meshq0")).GetProperty("stats64").GetProperty("tx");
        Assert.Equal(0, stats.GetProperty("dropped").GetInt64());
    }

    [RootFact]
    public async Task Read_Burst_MarksEveryPacketButTheLastMoreFollows_AndAnIdlePacketNot()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshm0", offload: false, ["10.66.1.1/24"]));
        const int Datagrams = 2000;

        // Sent while nobody reads the channel: once it is full the rest wait in the device, so
        // the reader finds each of them with another behind it, except the last.
        await SendNumberedDatagramsAsync(ns, Datagrams);
        await Eventually.TrueAsync(() => node.Netmod.Counters.IncomingFullWaits > 0, "the reader waits for room", TunNode.Timeout);

        var marked = new bool[Datagrams];
        var seen = 0;
        using (var cts = new CancellationTokenSource(TunNode.Timeout))
        {
            while (seen < Datagrams)
            {
                var frame = await node.Netmod.Incoming.ReadAsync(cts.Token);
                var span = frame.Span;
                if (span.Length == VirtioNetHeader.Size + 20 + 8 + 100 && span[VirtioNetHeader.Size + 9] == IpPacket.Udp)
                {
                    marked[BinaryPrimitives.ReadInt32BigEndian(span[(VirtioNetHeader.Size + 28)..])] = frame.MoreFollows;
                    seen++;
                }

                frame.Release();
            }
        }

        // From the packet held when the channel filled up to the one before the last, all waited
        // in the device behind another.
        Assert.All(marked[1100..^1], Assert.True);
        Assert.False(marked[^1], "the last packet of the burst must go out at once");

        var (code, output) = await ns.ExecAsync(ProcessTimeout, "python3", "-c", """
            import socket
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"idle" * 25, ("10.66.1.2", 9999))
            """);
        Assert.True(code == 0, output);
        using var idleWait = new CancellationTokenSource(TunNode.Timeout);
        while (true)
        {
            var frame = await node.Netmod.Incoming.ReadAsync(idleWait.Token);
            var span = frame.Span;
            var isIdle = span.Length == VirtioNetHeader.Size + 20 + 8 + 100 && span[VirtioNetHeader.Size + 28] == (byte)'i';
            var more = frame.MoreFollows;
            frame.Release();
            if (isIdle)
            {
                Assert.False(more, "an idle packet must go out at once");
                break;
            }
        }
    }

    [RootFact]
    public async Task Stop_WhileTheReaderWaitsForRoom_FinishesPromptly()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshw0", offload: true, ["10.66.1.1/24"]));
        var (code, output) = await ns.ExecAsync(ProcessTimeout, "python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(1500):
                s.sendto(b"x" * 64, ("10.66.1.2", 9999))
            """);
        Assert.True(code == 0, output);
        await Eventually.TrueAsync(() => node.Netmod.Counters.IncomingFullWaits > 0, "the reader waits for room", TunNode.Timeout);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await node.Netmod.StopAsync(CancellationToken.None);

        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(2), $"stop took {stopping.Elapsed}");
        Assert.False(node.Logs.Has(421));
        Assert.False(node.Logs.Has(420));
    }

    [RootFact]
    public async Task SendAsync_RacingStop_ReturnsSentOrStoppedAndNeverThrows()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshz0", offload: false, ["10.66.1.1/24"]));
        var frame = Packets.SuperPacket(ipv4: true, 1, Packets.Ack, new byte[20_000], 1000);
        var sent = 0;
        var senders = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            // Each sends until it sees the stop, or gives up after a while.
            var results = new HashSet<SendResult>();
            var deadline = DateTime.UtcNow + TunNode.Timeout;
            while (!results.Contains(SendResult.Stopped) && DateTime.UtcNow < deadline)
            {
                var result = await node.Netmod.SendAsync(new NeighbourId(0), frame, CancellationToken.None);
                results.Add(result);
                if (result == SendResult.Sent)
                {
                    Interlocked.Increment(ref sent);
                }
            }

            return results;
        })).ToList();

        await Eventually.TrueAsync(() => Volatile.Read(ref sent) > 100, "frames are being written", TunNode.Timeout);
        await node.Netmod.StopAsync(CancellationToken.None);
        var results = await Task.WhenAll(senders);

        Assert.All(results, r => Assert.Subset(new HashSet<SendResult> { SendResult.Sent, SendResult.Stopped }, r));
        Assert.All(results, r => Assert.Contains(SendResult.Stopped, r));
        Assert.True(node.Netmod.Counters.SegmentedInSoftware > 0);
    }

    [RootFact]
    public async Task SetMeshPrefixes_FromAnotherThread_AddsAndRemovesRoutesInTheDevicesNamespace()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshr0", offload: true, []));
        var feature = node.Netmod.GetFeature<IIpInterfaceFeature>()!;

        // A route the netmod cannot add (same prefix, same metric, already there) fails alone.
        await ns.IpAsync("route add 10.97.0.0/16 dev lo");

        await feature.SetMeshPrefixesAsync([IPNetwork.Parse("10.99.0.0/16"), IPNetwork.Parse("fd99::/48"), IPNetwork.Parse("10.97.0.0/16")], CancellationToken.None);

        Assert.Equal(["10.99.0.0/16", "fd99::/48"], await MeshRoutesAsync(ns, "meshr0"));
        Assert.Equal(1, node.Netmod.Counters.RouteErrors);
        Assert.True(node.Logs.Has(404, m => m.Contains("10.97.0.0/16", StringComparison.Ordinal) && m.Contains("exists already", StringComparison.Ordinal)));

        // Nothing landed in the test's own namespace, where this thread runs.
        Assert.DoesNotContain("proto 109", (await Ip.RunAsync("route show")) + await Ip.RunAsync("-6 route show"), StringComparison.Ordinal);

        await feature.SetMeshPrefixesAsync([IPNetwork.Parse("10.99.0.0/16"), IPNetwork.Parse("10.98.1.0/24"), IPNetwork.Parse("fd98::/64")], CancellationToken.None);
        Assert.Equal(["10.98.1.0/24", "10.99.0.0/16", "fd98::/64"], await MeshRoutesAsync(ns, "meshr0"));

        // A route removed behind the netmod's back is simply gone.
        await ns.IpAsync("route del 10.98.1.0/24 dev meshr0");
        await feature.SetMeshPrefixesAsync([], CancellationToken.None);

        Assert.Empty(await MeshRoutesAsync(ns, "meshr0"));
        Assert.Empty(node.Netmod.InstalledRoutes);
        Assert.Equal(1, node.Netmod.Counters.RouteErrors);
    }

    [RootFact]
    public async Task Stop_RemovesTheDeviceWithItsRoutes_CompletesChannels_AndIsIdempotent()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshs0", offload: true, ["10.66.1.1/24"]));
        await node.Netmod.SetMeshPrefixesAsync([IPNetwork.Parse("10.99.0.0/16")], CancellationToken.None);
        Assert.Single(await ns.IpJsonAsync("link show dev meshs0"));

        await node.Netmod.StopAsync(CancellationToken.None);
        await node.Netmod.StopAsync(CancellationToken.None);

        var (code, _, error) = await Ip.TryRunAsync($"-n {ns.Name} link show dev meshs0");
        Assert.NotEqual(0, code);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
        Assert.DoesNotContain("10.99.0.0", await ns.IpAsync("route show"), StringComparison.Ordinal);
        Assert.Equal(SendResult.Stopped, await node.SendPacketAsync(Packets.Udp(true, [1])));
        await node.Netmod.Incoming.Completion.WaitAsync(TunNode.Timeout);
        await node.Netmod.NeighbourEvents.Completion.WaitAsync(TunNode.Timeout);
        Assert.True(node.Logs.Has(401));
    }

    [Fact]
    public async Task Stop_BeforeStart_IsSafe_AndStartAfterStopIsRefused()
    {
        var netmod = TunNode.Create([], out _);

        await netmod.StopAsync(CancellationToken.None);

        await netmod.Incoming.Completion.WaitAsync(TunNode.Timeout);
        await netmod.NeighbourEvents.Completion.WaitAsync(TunNode.Timeout);
        Assert.Equal(SendResult.Stopped, await netmod.SendAsync(new NeighbourId(0), new byte[100], CancellationToken.None));
        await Assert.ThrowsAsync<InvalidOperationException>(() => netmod.StartAsync(CancellationToken.None));
    }

    [Fact]
    public void Capabilities_AreThoseOfALocalIpInterface()
    {
        var netmod = TunNode.Create(new() { ["Prefixes:0"] = "10.66.0.0/16" }, out _);

        Assert.Equal(new NetmodCapabilities("tun", VirtioNetHeader.MaxFrameSize, false, LinkKind.Local), netmod.Capabilities);
        Assert.Equal([IPNetwork.Parse("10.66.0.0/16")], netmod.GetFeature<IIpInterfaceFeature>()!.AnnouncedPrefixes);
        Assert.NotNull(netmod.GetFeature<INetmodCountersFeature>());
        Assert.Equal(
            ["packetsRead", "bytesRead", "gsoPacketsRead", "readAfterWrites", "nonIpDropped", "readErrors", "incomingFullWaits", "packetsWritten", "bytesWritten", "segmentedInSoftware", "checksumsCompleted", "malformedDropped", "writeErrors", "routeErrors"],
            netmod.GetCounters().Select(c => c.Key));
        Assert.Throws<ArgumentException>(() => netmod.AddPeersAsync(["10.0.0.1:5860"], CancellationToken.None).AsTask().GetAwaiter().GetResult());
    }

    [RootFact]
    public async Task Start_NameTakenByAnotherTunDevice_FailsWithOneClearMessageAndTheFirstKeepsWorking()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var first = await TunNode.StartAsync(ns, Settings("meshb0", offload: true, ["10.66.1.1/24"]));
        var second = TunNode.Create(Settings("meshb0", offload: true, ["10.66.2.1/24"]), out _);

        var e = await Assert.ThrowsAsync<IOException>(() => TunNode.StartInsideAsync(ns, second));
        await second.StopAsync(CancellationToken.None);

        Assert.Equal("cannot create TUN device meshb0: the name is in use by another TUN device (is another router using Name meshb0?); choose another Name.", e.Message);
        var addresses = await ns.IpAsync("addr show dev meshb0");
        Assert.Contains("10.66.1.1/24", addresses, StringComparison.Ordinal);
        Assert.DoesNotContain("10.66.2.1", addresses, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Start_NameOfAnotherKindOfInterface_FailsWithOneClearMessage()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        var netmod = TunNode.Create(Settings("lo", offload: true, []), out _);

        var e = await Assert.ThrowsAsync<IOException>(() => TunNode.StartInsideAsync(ns, netmod));
        await netmod.StopAsync(CancellationToken.None);

        Assert.Equal("cannot create TUN device lo: an interface of that name exists and is not a TUN device of this kind; choose another Name.", e.Message);
    }

    [Fact]
    public async Task Start_DevicePathMissing_FailsWithOneClearMessage()
    {
        var netmod = TunNode.Create([], out _, o => o with { DevicePath = "/nonexistent/net/tun" });

        var e = await Assert.ThrowsAsync<IOException>(() => netmod.StartAsync(CancellationToken.None));
        await netmod.StopAsync(CancellationToken.None);

        Assert.Equal("cannot open /nonexistent/net/tun: no such file — the kernel's TUN driver is missing (load it with modprobe tun) or the device node was not created.", e.Message);
    }

    [Fact]
    public async Task Start_DevicePathNotTheCloneDevice_FailsWithOneClearMessage()
    {
        var netmod = TunNode.Create([], out _, o => o with { DevicePath = "/dev/null" });

        var e = await Assert.ThrowsAsync<IOException>(() => netmod.StartAsync(CancellationToken.None));
        await netmod.StopAsync(CancellationToken.None);

        Assert.Equal("cannot create TUN device mesh0: /dev/null is not the TUN clone device.", e.Message);
    }

    [RootFact]
    public async Task Start_WithoutCapNetAdmin_FailsWithThePermissionMessageAndCreatesNothing()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        var netmod = TunNode.Create(Settings("meshe0", offload: true, []), out _);

        // Capabilities are per thread in Linux: the starting thread gives up CAP_NET_ADMIN, as a
        // router run by an ordinary user would lack it; nothing else in the process changes.
        var e = await Assert.ThrowsAsync<IOException>(() => TunNode.StartInsideAsync(ns, netmod, Capabilities.DropNetAdmin));
        await netmod.StopAsync(CancellationToken.None);

        Assert.Equal("cannot create TUN device meshe0: permission denied — the tun netmod needs root or CAP_NET_ADMIN.", e.Message);
        Assert.Equal(["lo"], (await ns.IpJsonAsync("link show")).Select(l => l.GetProperty("ifname").GetString()));
    }

    [RootFact]
    public async Task Start_AddressRefusedAfterTheDeviceExists_FailsClearlyAndLeavesNothingBehind()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.ExecAsync(ProcessTimeout, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        var netmod = TunNode.Create(Settings("meshd0", offload: true, ["10.66.1.1/24"]), out _);

        var e = await Assert.ThrowsAsync<IOException>(() => TunNode.StartInsideAsync(ns, netmod));

        Assert.StartsWith("cannot assign the overlay address fd6d:", e.Message, StringComparison.Ordinal);
        Assert.Contains("/16 to meshd0: ", e.Message, StringComparison.Ordinal);
        Assert.Equal(["lo"], (await ns.IpJsonAsync("link show")).Select(l => l.GetProperty("ifname").GetString()));

        // A failed start can be retried; stop still completes everything.
        await netmod.StopAsync(CancellationToken.None);
        await netmod.Incoming.Completion.WaitAsync(TunNode.Timeout);
    }

    [RootTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Write_PlainPacketLargerThanTheMtu_IsTakenByTheKernel(bool offload)
    {
        // What TUN does with a packet over its MTU on write (no GSO): it takes it, and the
        // kernel delivers it locally. The netmod relies on this for packets cut to another
        // router's larger MTU, and does not check the MTU on write.
        await using var ns = await NetworkNamespace.CreateAsync();
        await using var node = await TunNode.StartAsync(ns, Settings("meshm0", offload, ["10.66.1.1/24"]));
        const string Receive = """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("10.66.1.1", 9999))
            s.settimeout(10)
            print("READY", flush=True)
            data, _ = s.recvfrom(65535)
            print("GOT", len(data), flush=True)
            """;
        await using var receiver = ns.Start("python3", "-c", Receive);
        await receiver.WaitForLineAsync("READY", ProcessTimeout);
        var packet = Packets.Udp(ipv4: true, FrameWriterTests.RandomBytes(3000, 1), IPAddress.Parse("10.66.1.2"), IPAddress.Parse("10.66.1.1"));

        Assert.Equal(SendResult.Sent, await node.SendPacketAsync(packet));

        Assert.Equal("GOT 3000", await receiver.WaitForLineAsync("GOT", ProcessTimeout));
        Assert.Equal(0, node.Netmod.Counters.WriteErrors);
    }

    internal static Dictionary<string, string?> Settings(string name, bool offload, string[] addresses, int mtu = 1280, int txQueueLength = 10_000)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Name"] = name,
            ["Offload"] = offload ? "true" : "false",
            ["Mtu"] = mtu.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TxQueueLength"] = txQueueLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        for (var i = 0; i < addresses.Length; i++)
        {
            settings[$"Addresses:{i}"] = addresses[i];
        }

        return settings;
    }

    private static bool IsEchoRequest(byte[] frame, IPAddress target)
    {
        var packet = frame.AsSpan(VirtioNetHeader.Size);
        var ipv4 = target.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        if (packet.Length < 48 || packet[0] >> 4 != (ipv4 ? 4 : 6))
        {
            return false;
        }

        var (transport, protocol, _) = ReferenceChecksum.Transport(packet);
        var destination = new IPAddress(ipv4 ? packet.Slice(16, 4) : packet.Slice(24, 16));
        return destination.Equals(target) && protocol == (ipv4 ? 1 : 58) && packet[transport] == (ipv4 ? 8 : 128);
    }

    /// <summary>The netmod's routes (protocol 109) through <paramref name="device"/>, both families, sorted.</summary>
    private static async Task<List<string>> MeshRoutesAsync(NetworkNamespace ns, string device)
    {
        var routes = (await ns.IpJsonAsync($"route show proto 109")).Concat(await ns.IpJsonAsync($"-6 route show proto 109"));
        return routes
            .Where(r => r.GetProperty("dev").GetString() == device)
            .Select(r => r.GetProperty("dst").GetString()!)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Sends <paramref name="count"/> UDP datagrams of 100 bytes (the index, 4 bytes big-endian, repeated) into the device of 10.66.1.0/24.</summary>
    private static async Task SendNumberedDatagramsAsync(NetworkNamespace ns, int count)
    {
        var (code, output) = await ns.ExecAsync(ProcessTimeout, "python3", "-c", $$"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range({{count}}):
                s.sendto(i.to_bytes(4, "big") * 25, ("10.66.1.2", 9999))
            """);
        Assert.True(code == 0, output);
    }
}
