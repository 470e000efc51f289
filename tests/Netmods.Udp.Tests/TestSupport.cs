using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>Builders for contexts, sections and endpoints.</summary>
internal static class Udp
{
    static Udp()
    {
        // The test host blocks thread-pool threads while tests start, stalling timers and
        // socket continuations for most of a second; sub-second liveness tests would measure
        // the host, not the netmod.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }

    /// <summary>Upper bound on any single wait in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Loopback only, no discovery, quick keepalives and retries.</summary>
    public static Dictionary<string, string?> FastSettings(params string[] peers)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Listen:0"] = "127.0.0.1:0",
            ["Discovery"] = "false",
            ["KeepaliveSeconds"] = "0.5",
            ["DeadPeerTimeoutSeconds"] = "5",
            ["ReconnectMinSeconds"] = "0.05",
            ["ReconnectMaxSeconds"] = "0.5",
        };
        for (var i = 0; i < peers.Length; i++)
        {
            settings[$"Peers:{i}"] = peers[i];
        }

        return settings;
    }

    public static IConfigurationSection Section(IEnumerable<KeyValuePair<string, string?>> settings) =>
        NetmodTestContext.Section("udp", settings);

    public static NetmodContext Context(IEnumerable<KeyValuePair<string, string?>> settings, RouterAddress address, ILoggerFactory logs) =>
        NetmodTestContext.Create("udp", settings, address, logs);
}

/// <summary>One running endpoint with its address and captured logs; disposing stops it.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(UdpEndpoint endpoint, RouterAddress address, CapturingLoggerProvider logs)
    {
        Endpoint = endpoint;
        Address = address;
        Logs = logs;
    }

    public UdpEndpoint Endpoint { get; }

    public RouterAddress Address { get; }

    public CapturingLoggerProvider Logs { get; }

    public IPEndPoint LocalEndPoint => Endpoint.ListenEndpoints[0];

    public string ListenAddress => LocalEndPoint.ToString();

    public int Port => LocalEndPoint.Port;

    public static async Task<TestNode> StartAsync(Dictionary<string, string?> settings, RouterAddress? address = null)
    {
        var logs = new CapturingLoggerProvider();
        var routerAddress = address ?? NetmodTestContext.RandomAddress();
        var endpoint = (UdpEndpoint)new UdpFactory().Create(Udp.Context(settings, routerAddress, logs));
        try
        {
            await endpoint.StartAsync(CancellationToken.None);
        }
        catch
        {
            await endpoint.DisposeAsync();
            throw;
        }

        return new TestNode(endpoint, routerAddress, logs);
    }

    /// <summary>The next neighbour event, or a <see cref="TimeoutException"/>.</summary>
    public async Task<NeighbourEvent> NextEventAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Udp.Timeout);
        try
        {
            return await Endpoint.NeighbourEvents.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no neighbour event within {(timeout ?? Udp.Timeout).TotalSeconds} s");
        }
    }

    /// <summary>Waits for an Up event and checks it names <paramref name="expected"/>.</summary>
    public async Task<NeighbourEvent> ExpectUpAsync(RouterAddress expected)
    {
        var up = await NextEventAsync();
        Assert.Equal(NeighbourEventKind.Up, up.Kind);
        Assert.Equal(expected, up.Address);
        return up;
    }

    /// <summary>The next frame as a copy (the pooled buffer is released), or a <see cref="TimeoutException"/>.</summary>
    public async Task<(NeighbourId From, byte[] Bytes)> NextFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Udp.Timeout);
        InboundFrame frame;
        try
        {
            frame = await Endpoint.Incoming.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame within {(timeout ?? Udp.Timeout).TotalSeconds} s");
        }

        var bytes = frame.Span.ToArray();
        frame.Release();
        return (frame.From, bytes);
    }

    public async ValueTask DisposeAsync()
    {
        await Endpoint.DisposeAsync();

        // Return whatever the test left unread.
        while (Endpoint.Incoming.TryRead(out var frame))
        {
            frame.Release();
        }
    }
}

/// <summary>A bare UDP socket on loopback for speaking (or mangling) the protocol by hand.</summary>
internal sealed class RawPeer : IDisposable
{
    private readonly UdpClient _client = new(new IPEndPoint(IPAddress.Loopback, 0));

    public IPEndPoint LocalEndPoint => (IPEndPoint)_client.Client.LocalEndPoint!;

    public static byte[] Hello(RouterAddress address, DatagramType type = DatagramType.Hello, int maxFrameSize = 1400, ushort version = Wire.ProtocolVersion)
    {
        var hello = new byte[Wire.HelloSize];
        Wire.WriteHello(hello, type, address, maxFrameSize, version);
        return hello;
    }

    public static byte[] Data(byte[] frame) => [(byte)DatagramType.Data, .. frame];

    public Task SendAsync(byte[] datagram, IPEndPoint to) => _client.SendAsync(datagram, to).AsTask().WaitAsync(Udp.Timeout);

    /// <summary>The next datagram, or a <see cref="TimeoutException"/>.</summary>
    public async Task<byte[]> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Udp.Timeout);
        try
        {
            return (await _client.ReceiveAsync(cts.Token)).Buffer;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no datagram within {(timeout ?? Udp.Timeout).TotalSeconds} s");
        }
    }

    /// <summary>Datagrams until one of <paramref name="type"/> arrives (others are skipped).</summary>
    public async Task<byte[]> ReceiveAsync(DatagramType type, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Udp.Timeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no {type} datagram within {(timeout ?? Udp.Timeout).TotalSeconds} s");
            }

            var datagram = await ReceiveAsync(left);
            if (datagram.Length > 0 && datagram[0] == (byte)type)
            {
                return datagram;
            }
        }
    }

    public void Dispose() => _client.Dispose();
}
