using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Router.IntegrationTests;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// Beacon handling on loopback, one side only: a raw socket plays a router whose beacon this
/// endpoint hears. Discovery is on but restricted to an interface that does not exist, so
/// nothing is ever beaconed to a real network (NetnsTests covers real interfaces).
/// </summary>
public sealed class DiscoveryTests
{
    private static Dictionary<string, string?> Hearing(int discoveryPort)
    {
        var settings = Udp.FastSettings();
        settings["Discovery"] = "true";
        settings["DiscoveryPort"] = discoveryPort.ToString(CultureInfo.InvariantCulture);
        settings["DiscoveryInterfaces:0"] = "udptest-none";
        return settings;
    }

    private static int FreePort() => TestPorts.Next();

    private static byte[] Beacon(RouterAddress address, int port, ushort version = Wire.ProtocolVersion)
    {
        var beacon = new byte[Wire.BeaconSize];
        Wire.WriteBeacon(beacon, address, port, version);
        return beacon;
    }

    [Fact]
    public async Task Beacon_FromAnUnknownRouter_IsAnsweredWithAHelloAndLinks()
    {
        await using var b = await TestNode.StartAsync(Udp.FastSettings());
        var port = FreePort();
        await using var a = await TestNode.StartAsync(Hearing(port));
        Assert.Equal(port, a.Endpoint.DiscoveryEndpoint!.Port);
        using var raw = new RawPeer();

        // b never hears a's beacons (it has no discovery at all); a hears b's, once.
        await raw.SendAsync(Beacon(b.Address, b.Port), new IPEndPoint(IPAddress.Loopback, port));

        var upOnA = await a.ExpectUpAsync(b.Address);
        await b.ExpectUpAsync(a.Address);
        Assert.Equal(b.ListenAddress, upOnA.RemoteEndpoint);
        var status = Assert.Single(a.Endpoint.GetPeers());
        Assert.Equal(PeerState.Up, status.State);
        Assert.False(status.Inbound);
    }

    [Fact]
    public async Task Beacon_OwnAddressOrKnownRouterOrOtherVersion_SendsNoHello()
    {
        var port = FreePort();
        await using var a = await TestNode.StartAsync(Hearing(port));
        using var raw = new RawPeer();
        var discovery = new IPEndPoint(IPAddress.Loopback, port);
        var stranger = NetmodTestContext.RandomAddress();

        // Each names the raw socket's port as its link port, so a hello would come back to it.
        await raw.SendAsync(Beacon(a.Address, raw.LocalEndPoint.Port), discovery);
        await raw.SendAsync(Beacon(stranger, raw.LocalEndPoint.Port, version: 2), discovery);
        await raw.SendAsync(Beacon(stranger, raw.LocalEndPoint.Port, version: 2), discovery);

        await Eventually.TrueAsync(() => a.Endpoint.Counters.Control >= 3, "the beacons reached the control loop");
        await Assert.ThrowsAsync<TimeoutException>(() => raw.ReceiveAsync(TimeSpan.FromMilliseconds(300)));
        var entry = Assert.Single(a.Logs.Entries, e => e.Id.Id == 309);
        Assert.Equal($"router at {raw.LocalEndPoint} beacons udp protocol v2, this router speaks v1; ignored", entry.Message);

        // A router already linked is not greeted again because of its beacon.
        await raw.SendAsync(RawPeer.Hello(stranger), a.LocalEndPoint);
        await raw.ReceiveAsync(DatagramType.HelloAck);
        await a.ExpectUpAsync(stranger);
        await raw.SendAsync(Beacon(stranger, raw.LocalEndPoint.Port), discovery);
        await Eventually.TrueAsync(() => a.Endpoint.Counters.Control >= 5, "the last beacon reached the control loop");
        await Assert.ThrowsAsync<TimeoutException>(() => raw.ReceiveAsync(DatagramType.Hello, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task DiscoverySocket_DatagramsOtherThanBeacons_AreCountedAndDropped()
    {
        var port = FreePort();
        await using var a = await TestNode.StartAsync(Hearing(port));
        using var raw = new RawPeer();
        var discovery = new IPEndPoint(IPAddress.Loopback, port);

        await raw.SendAsync(RawPeer.Hello(NetmodTestContext.RandomAddress()), discovery);
        await raw.SendAsync(RawPeer.Data([1, 2, 3]), discovery);
        await raw.SendAsync([(byte)DatagramType.Beacon, 1, 2], discovery);

        await Eventually.TrueAsync(() => a.Endpoint.Counters.Malformed >= 3, "all three were counted");
        Assert.Empty(a.Endpoint.Table.All);
        await Assert.ThrowsAsync<TimeoutException>(() => raw.ReceiveAsync(TimeSpan.FromMilliseconds(200)));
    }
}
