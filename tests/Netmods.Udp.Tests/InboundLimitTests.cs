using System.Net;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// The limits against hostile hosts: per-address rate of hellos, acks and beacons; paths
/// learned from strangers per address and in total; answers to strangers per address. Real
/// sockets on loopback (127.0.0.0/8 gives each flood its own source addresses); the state must
/// stay bounded, every refusal be counted, and honest peers still link.
/// </summary>
public sealed class InboundLimitTests
{
    [Fact]
    public async Task Hello_FloodFromManyPortsOfOneAddress_StateStaysBoundedAndAnHonestPeerLinks()
    {
        var settings = Udp.FastSettings();
        settings["DeadPeerTimeoutSeconds"] = "60";
        await using var b = await TestNode.StartAsync(settings);
        var counters = b.Endpoint.Counters;

        // 300 ports on 127.0.0.2, each greeting with a router address of its own.
        const int flood = 300;
        var sockets = OpenSockets(IPAddress.Parse("127.0.0.2"), flood);
        try
        {
            for (var i = 0; i < flood / 2; i++)
            {
                await SendAsync(sockets[i], RawPeer.Hello(NetmodTestContext.RandomAddress()), b.LocalEndPoint);
            }

            // An honest router on 127.0.0.1 dials in while the flood goes on.
            await using var a = await TestNode.StartAsync(Udp.FastSettings(b.ListenAddress));
            for (var i = flood / 2; i < flood; i++)
            {
                await SendAsync(sockets[i], RawPeer.Hello(NetmodTestContext.RandomAddress()), b.LocalEndPoint);
            }

            var bOnA = (await a.ExpectUpAsync(b.Address)).Neighbour;
            await Eventually.TrueAsync(() => b.Endpoint.Table.ByAddress.ContainsKey(a.Address), "b links with the honest router");

            // Every flood hello ends in one place: over the address's rate, refused a path, or one of the 8 paths.
            await Eventually.TrueAsync(
                () => counters.HandshakesRateLimited + counters.PathsRefusedPerAddress + 8 == flood,
                $"b accounted for the flood ({counters})");
            Assert.True(counters.HandshakesRateLimited > 0, counters.ToString());
            Assert.True(counters.PathsRefusedPerAddress > 0, counters.ToString());
            Assert.Equal(0, counters.PathsRefusedTotal);
            Assert.Equal(8, b.Endpoint.Table.All.Count(n => n.Address != a.Address));
            Assert.Equal(9, b.Endpoint.InboundPathCount);
            Assert.Equal(2, b.Endpoint.HandshakeSources);
            Assert.True(b.Logs.Has(350), "the rate limit is logged");
            Assert.True(b.Logs.Has(351), "the path limit is logged");

            Assert.Equal(SendResult.Sent, await a.Endpoint.SendAsync(bOnA, new byte[] { 9 }, CancellationToken.None));
            Assert.Equal([9], (await b.NextFrameAsync()).Bytes);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Hello_FloodFromManyAddresses_TotalStaysBoundedAndAConfiguredPeerStillLinks()
    {
        var settings = Udp.FastSettings();
        settings["DeadPeerTimeoutSeconds"] = "60";
        settings["MaxInboundPaths"] = "16";
        await using var b = await TestNode.StartAsync(settings);
        var counters = b.Endpoint.Counters;

        // Twenty addresses, three ports each: every address is within its own limits.
        var sockets = new List<Socket>();
        try
        {
            for (var host = 2; host < 22; host++)
            {
                sockets.AddRange(OpenSockets(IPAddress.Parse($"127.0.1.{host}"), 3));
            }

            foreach (var socket in sockets)
            {
                await SendAsync(socket, RawPeer.Hello(NetmodTestContext.RandomAddress()), b.LocalEndPoint);
            }

            await Eventually.TrueAsync(() => counters.PathsRefusedTotal == sockets.Count - 16, $"b refuses all but 16 ({counters})");
            Assert.Equal(16, b.Endpoint.InboundPathCount);
            Assert.Equal(16, b.Endpoint.Table.All.Length);
            Assert.Equal(0, counters.PathsRefusedPerAddress);
            Assert.Equal(0, counters.HandshakesRateLimited);
            Assert.True(b.Logs.Has(352), "the total limit is logged");

            // A peer b is configured with is not a stranger: it links although the table is full.
            await using var a = await TestNode.StartAsync(Udp.FastSettings());
            await b.Endpoint.AddPeersAsync([a.ListenAddress], CancellationToken.None);
            await a.ExpectUpAsync(b.Address);
            await Eventually.TrueAsync(() => b.Endpoint.Table.ByAddress.ContainsKey(a.Address), "b links with its configured peer");
            Assert.Equal(16, b.Endpoint.InboundPathCount);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Paths_LearnedFromStrangersThatFallSilent_GiveTheirPlacesBack()
    {
        var settings = Udp.FastSettings();
        settings["KeepaliveSeconds"] = "0.1";
        settings["DeadPeerTimeoutSeconds"] = "0.5";
        settings["MaxInboundPathsPerAddress"] = "2";
        await using var b = await TestNode.StartAsync(settings);
        var sockets = OpenSockets(IPAddress.Parse("127.0.0.3"), 3);
        try
        {
            foreach (var socket in sockets)
            {
                await SendAsync(socket, RawPeer.Hello(NetmodTestContext.RandomAddress()), b.LocalEndPoint);
            }

            await Eventually.TrueAsync(() => b.Endpoint.Counters.PathsRefusedPerAddress == 1, "the third path is refused");
            await Eventually.TrueAsync(() => b.Endpoint.Table.All.Length == 0, "the silent paths are dropped");
            Assert.Equal(0, b.Endpoint.InboundPathCount);

            // Their places are free again.
            var address = NetmodTestContext.RandomAddress();
            await SendAsync(sockets[2], RawPeer.Hello(address), b.LocalEndPoint);
            await Eventually.TrueAsync(() => b.Endpoint.Table.ByAddress.ContainsKey(address), "a new path is admitted");
            Assert.Equal(1, b.Endpoint.Counters.PathsRefusedPerAddress);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Data_FloodFromOneStranger_IsAnsweredAtItsOwnRateAndOtherStrangersStillAre()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        using var noisy = new RawPeer();
        for (var i = 0; i < 100; i++)
        {
            await noisy.SendAsync(RawPeer.Data([1, 2, 3]), b.LocalEndPoint);
        }

        await Eventually.TrueAsync(() => b.Endpoint.Counters.NotNeighbour == 100, "b saw the flood");

        // Its burst of two answers, plus whatever its rate refilled while the flood was sent.
        Assert.True(b.Endpoint.Counters.StrangersNotAnswered >= 90, b.Endpoint.Counters.ToString());
        await noisy.ReceiveAsync(DatagramType.Hello);

        // The noisy stranger used only its own share of the answers: one on another address is answered.
        using var other = new UdpClient(new IPEndPoint(IPAddress.Parse("127.0.0.4"), 0));
        await other.SendAsync(RawPeer.Data([4]), b.LocalEndPoint).AsTask().WaitAsync(Udp.Timeout);
        using var cts = new CancellationTokenSource(Udp.Timeout);
        var answer = await other.ReceiveAsync(cts.Token);
        Assert.Equal((byte)DatagramType.Hello, answer.Buffer[0]);
    }

    [Fact]
    public void SourceKey_Ipv4AndItsV4MappedForm_AreOneSourceWhateverThePort()
    {
        var plain = SourceKey.From(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 1000).Serialize());
        var mapped = SourceKey.From(new IPEndPoint(IPAddress.Parse("192.0.2.7").MapToIPv6(), 2000).Serialize());
        var other = SourceKey.From(new IPEndPoint(IPAddress.Parse("192.0.2.8"), 1000).Serialize());
        var v6 = SourceKey.From(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 1000).Serialize());

        Assert.Equal(plain, mapped);
        Assert.NotEqual(plain, other);
        Assert.NotEqual(plain, v6);
        Assert.Equal("192.0.2.7", plain.ToString());
        Assert.Equal("2001:db8::7", v6.ToString());
    }

    [Fact]
    public void SourceRateLimit_EachSourceHasItsOwnBurstAndRefillsAtItsRate()
    {
        var time = new ManualTimeProvider();
        var limit = new SourceRateLimit(time, perSecond: 2, burst: 3);
        var one = Key(1);
        var two = Key(2);

        Assert.Equal(3, Enumerable.Range(0, 10).Count(_ => limit.TryTake(one)));
        Assert.True(limit.TryTake(two));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, Enumerable.Range(0, 10).Count(_ => limit.TryTake(one)));
    }

    [Fact]
    public void SourceRateLimit_TableFull_DropsRefilledSourcesAndOtherwiseSharesOneBucket()
    {
        var time = new ManualTimeProvider();
        var limit = new SourceRateLimit(time, perSecond: 1, burst: 2);
        for (var i = 0; i < SourceRateLimit.MaxSources; i++)
        {
            Assert.True(limit.TryTake(Key(i)));
        }

        // Full of sources that are not yet refilled: newcomers share one bucket of 2.
        Assert.Equal(2, Enumerable.Range(0, 10).Count(i => limit.TryTake(Key(100_000 + i))));
        Assert.Equal(SourceRateLimit.MaxSources, limit.Count);

        // Once they have refilled they are forgotten, and newcomers get buckets of their own.
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(limit.TryTake(Key(200_000)));
        Assert.True(limit.TryTake(Key(200_000)));
        Assert.Equal(1, limit.Count);
    }

    private static SourceKey Key(int i) => new(0, (ulong)i);

    private static List<Socket> OpenSockets(IPAddress address, int count)
    {
        var sockets = new List<Socket>(count);
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(address, 0));
            sockets.Add(socket);
        }

        return sockets;
    }

    private static async Task SendAsync(Socket socket, byte[] datagram, IPEndPoint to) =>
        await socket.SendToAsync(datagram, SocketFlags.None, to).WaitAsync(Udp.Timeout);
}
