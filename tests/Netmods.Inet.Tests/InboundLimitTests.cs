using System.Net;
using System.Net.Sockets;

namespace Router.Netmods.Inet.Tests;

/// <summary>
/// The limits on inbound connections against a hostile host: per source address, in total and
/// on handshakes in progress. Real sockets on loopback; the excess must be closed at accept and
/// counted, and an honest peer must still link.
/// </summary>
public sealed class InboundLimitTests
{
    [Fact]
    public async Task Accept_MoreConnectionsFromOneAddressThanItsLimit_ExcessClosedAndCountedWhileAnHonestPeerLinks()
    {
        var settings = Inet.FastSettings();
        settings["Listen:1"] = "[::1]:0";
        settings["MaxInboundConnectionsPerAddress"] = "4";
        settings["HandshakeTimeoutSeconds"] = "30";
        await using var server = await TestNode.StartAsync(settings);

        // Ten idle connections from 127.0.0.1 that never send a hello.
        var hostile = new List<Socket?>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                hostile.Add(await ConnectAsync(server.Endpoint.ListenEndpoints[0]));
            }

            await Eventually.TrueAsync(() => server.Endpoint.Counters.InboundRefusedPerAddress == 6, "six connections are refused");
            Assert.Equal(4, server.Endpoint.Inbound.CountFrom(IPAddress.Loopback));
            Assert.Equal(4, server.Endpoint.Counters.InboundAccepted);
            Assert.Equal(0, server.Endpoint.Counters.InboundRefusedTotal);

            var closed = await Task.WhenAll(hostile.Select(s => ClosedWithinAsync(s, TimeSpan.FromSeconds(2))));
            Assert.Equal(6, closed.Count(c => c));
            Assert.True(server.Logs.Has(104), "the refusal is logged");

            // An honest router from another address (::1) still links while those four hold their places.
            await using var honest = await TestNode.StartAsync(Inet.FastSettings(server.Endpoint.ListenEndpoints[1].ToString()));
            await server.ExpectUpAsync(honest.Address);
            await honest.ExpectUpAsync(server.Address);
            Assert.Equal(6, server.Endpoint.Counters.InboundRefusedPerAddress);
        }
        finally
        {
            hostile.ForEach(s => s?.Dispose());
        }

        await Eventually.TrueAsync(() => server.Endpoint.Inbound.CountFrom(IPAddress.Loopback) == 0, "closed connections give their places back");
    }

    [Fact]
    public async Task Accept_MoreConnectionsThanTheTotalLimit_ExcessClosedAndCountedAndPlacesComeBack()
    {
        var settings = Inet.FastSettings();
        settings["MaxInboundConnections"] = "3";
        settings["HandshakeTimeoutSeconds"] = "30";
        await using var server = await TestNode.StartAsync(settings);

        var hostile = new List<Socket?>();
        for (var i = 0; i < 7; i++)
        {
            hostile.Add(await ConnectAsync(server.Endpoint.ListenEndpoints[0]));
        }

        await Eventually.TrueAsync(() => server.Endpoint.Counters.InboundRefusedTotal == 4, "four connections are refused");
        Assert.Equal(3, server.Endpoint.Inbound.Count);
        Assert.Equal(0, server.Endpoint.Counters.InboundRefusedPerAddress);
        Assert.True(server.Logs.Has(103), "the refusal is logged");

        // Once the idle connections go, an honest peer from the same address links.
        hostile.ForEach(s => s?.Dispose());
        await Eventually.TrueAsync(() => server.Endpoint.Inbound.Count == 0, "closed connections give their places back");
        await using var honest = await TestNode.StartAsync(Inet.FastSettings(server.ListenAddress));
        await server.ExpectUpAsync(honest.Address);
        await honest.ExpectUpAsync(server.Address);
    }

    [Fact]
    public async Task Accept_MoreHandshakesThanThePendingLimit_ExcessClosedAndCounted()
    {
        var settings = Inet.FastSettings();
        settings["MaxPendingHandshakes"] = "2";
        settings["HandshakeTimeoutSeconds"] = "30";
        await using var server = await TestNode.StartAsync(settings);

        var hostile = new List<Socket?>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                hostile.Add(await ConnectAsync(server.Endpoint.ListenEndpoints[0]));
            }

            await Eventually.TrueAsync(() => server.Endpoint.Counters.InboundRefusedPendingHandshakes == 3, "three connections are refused");
            Assert.Equal(2, server.Endpoint.Inbound.Count);
            Assert.True(server.Logs.Has(102), "the refusal is logged");
        }
        finally
        {
            hostile.ForEach(s => s?.Dispose());
        }
    }

    [Fact]
    public async Task Handshake_IdleConnectionsHoldingEveryPlace_AreClosedByTheHelloTimeoutSoPeersLinkAgain()
    {
        var settings = Inet.FastSettings();
        settings["MaxInboundConnectionsPerAddress"] = "2";
        settings["HandshakeTimeoutSeconds"] = "0.5";
        await using var server = await TestNode.StartAsync(settings);

        var hostile = new List<Socket?>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                hostile.Add(await ConnectAsync(server.Endpoint.ListenEndpoints[0]));
            }

            await Eventually.TrueAsync(() => server.Endpoint.Counters.HandshakeTimeouts == 2, "both idle connections time out");
            await Eventually.TrueAsync(() => server.Endpoint.Inbound.Count == 0, "their places are given back");

            // The client's dialer retries whatever it meets first, so the link comes up.
            await using var honest = await TestNode.StartAsync(Inet.FastSettings(server.ListenAddress));
            await server.ExpectUpAsync(honest.Address);
        }
        finally
        {
            hostile.ForEach(s => s?.Dispose());
        }
    }

    [Fact]
    public void Admission_Ipv4MappedAndPlainIpv4_CountAsOneAddress()
    {
        var admission = new InboundAdmission(maxTotal: 10, maxPerAddress: 2);
        var plain = IPAddress.Parse("192.0.2.1");
        var mapped = plain.MapToIPv6();

        Assert.Equal(Admission.Admitted, admission.TryAdmit(plain));
        Assert.Equal(Admission.Admitted, admission.TryAdmit(mapped));
        Assert.Equal(Admission.AddressFull, admission.TryAdmit(plain));
        Assert.Equal(Admission.Admitted, admission.TryAdmit(IPAddress.Parse("192.0.2.2")));

        admission.Release(mapped);
        Assert.Equal(1, admission.CountFrom(plain));
        Assert.Equal(Admission.Admitted, admission.TryAdmit(mapped));
        Assert.Equal(3, admission.Count);
    }

    [Fact]
    public void Admission_ReleaseOfTheLastConnection_ForgetsTheAddress()
    {
        var admission = new InboundAdmission(maxTotal: 1, maxPerAddress: 1);
        var address = IPAddress.Parse("2001:db8::1");

        Assert.Equal(Admission.Admitted, admission.TryAdmit(address));
        Assert.Equal(Admission.TotalFull, admission.TryAdmit(IPAddress.Parse("2001:db8::2")));
        admission.Release(address);
        admission.Release(address);

        Assert.Equal(0, admission.Count);
        Assert.Equal(0, admission.CountFrom(address));
        Assert.Equal(Admission.Admitted, admission.TryAdmit(IPAddress.Parse("2001:db8::2")));
    }

    [Fact]
    public async Task GetCounters_NamesEveryCounterWithItsValue()
    {
        var settings = Inet.FastSettings();
        settings["MaxInboundConnections"] = "1";
        settings["HandshakeTimeoutSeconds"] = "30";
        await using var server = await TestNode.StartAsync(settings);
        using var first = await ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        using var second = await ConnectAsync(server.Endpoint.ListenEndpoints[0]);
        Assert.NotNull(first);
        await Eventually.TrueAsync(() => server.Endpoint.Counters.InboundRefusedTotal == 1, "the second connection is refused");

        var snapshot = server.Endpoint.GetCounters();
        var counters = snapshot.ToDictionary(c => c.Key, c => c.Value);

        Assert.Equal(1, counters["inboundAccepted"]);
        Assert.Equal(1, counters["inboundRefusedTotal"]);
        Assert.Equal(
            ["inboundAccepted", "inboundRefusedTotal", "inboundRefusedPerAddress", "inboundRefusedPendingHandshakes", "handshakeTimeouts", "handshakesRefused", "framesTooLarge"],
            snapshot.Select(c => c.Key));
    }

    /// <summary>
    /// Connects; null when the endpoint reset the connection so fast that the connect itself
    /// reports it (on loopback the reset can beat the completion).
    /// </summary>
    private static async Task<Socket?> ConnectAsync(IPEndPoint target)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(Inet.Timeout);
        try
        {
            await socket.ConnectAsync(target, cts.Token);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>
    /// True when the endpoint closes or resets the connection within <paramref name="wait"/>;
    /// false when it is still open then (an admitted connection gets the endpoint's hello and
    /// then silence until the handshake timeout).
    /// </summary>
    private static async Task<bool> ClosedWithinAsync(Socket? socket, TimeSpan wait)
    {
        if (socket is null)
        {
            return true;
        }

        using var cts = new CancellationTokenSource(wait);
        var buffer = new byte[256];
        try
        {
            while (true)
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
