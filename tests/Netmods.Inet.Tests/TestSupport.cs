using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>Builders for contexts, sections and endpoints.</summary>
internal static class Inet
{
    static Inet()
    {
        // The test host blocks thread-pool threads while tests start, stalling timers and
        // socket continuations for most of a second (measured: a 50 ms timer skipped 400 ms
        // to 1,130 ms). Sub-second keepalive tests would measure the host, not the netmod.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }

    /// <summary>Upper bound on any single wait in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>Settings that keep loopback tests fast: quick keepalives and retries.</summary>
    public static Dictionary<string, string?> FastSettings(params string[] peers)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Listen:0"] = "127.0.0.1:0",
            ["KeepaliveSeconds"] = "0.5",
            ["DeadPeerTimeoutSeconds"] = "5",
            ["HandshakeTimeoutSeconds"] = "3",
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
        NetmodTestContext.Section("inet", settings);

    public static NetmodContext Context(IEnumerable<KeyValuePair<string, string?>> settings, RouterAddress address, ILoggerFactory logs) =>
        NetmodTestContext.Create("inet", settings, address, logs);

    public static string Loopback(this InetEndpoint endpoint, int index = 0) =>
        endpoint.ListenEndpoints[index].ToString();
}

/// <summary>One running endpoint with its address and captured logs; disposing stops it.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(InetEndpoint endpoint, RouterAddress address, CapturingLoggerProvider logs)
    {
        Endpoint = endpoint;
        Address = address;
        Logs = logs;
    }

    public InetEndpoint Endpoint { get; }

    public RouterAddress Address { get; }

    public CapturingLoggerProvider Logs { get; }

    public string ListenAddress => Endpoint.Loopback();

    public int Port => Endpoint.ListenEndpoints[0].Port;

    public static async Task<TestNode> StartAsync(Dictionary<string, string?> settings, RouterAddress? address = null)
    {
        var logs = new CapturingLoggerProvider();
        var routerAddress = address ?? NetmodTestContext.RandomAddress();
        var endpoint = (InetEndpoint)new InetFactory().Create(Inet.Context(settings, routerAddress, logs));
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
        using var cts = new CancellationTokenSource(timeout ?? Inet.Timeout);
        try
        {
            return await Endpoint.NeighbourEvents.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no neighbour event within {(timeout ?? Inet.Timeout).TotalSeconds} s");
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
        using var cts = new CancellationTokenSource(timeout ?? Inet.Timeout);
        InboundFrame frame;
        try
        {
            frame = await Endpoint.Incoming.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame within {(timeout ?? Inet.Timeout).TotalSeconds} s");
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

/// <summary>A bare TCP client for speaking (or mangling) the protocol by hand.</summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly Socket _socket;

    private RawPeer(Socket socket) => _socket = socket;

    public static async Task<RawPeer> ConnectAsync(IPEndPoint target)
    {
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(Inet.Timeout);
        await socket.ConnectAsync(target, cts.Token);
        return new RawPeer(socket);
    }

    public static byte[] Hello(RouterAddress address, int maxFrameSize = 131072, ushort version = Handshake.ProtocolVersion)
    {
        var hello = new byte[Handshake.HelloSize];
        Handshake.WriteHello(hello, address, maxFrameSize);
        hello[4] = (byte)(version >> 8);
        hello[5] = (byte)version;
        return hello;
    }

    public async Task SendAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Inet.Timeout);
        await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes.</summary>
    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(Inet.Timeout);
        var read = 0;
        while (read < count)
        {
            var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            if (n == 0)
            {
                throw new EndOfStreamException($"closed after {read} of {count} bytes");
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>Reads until the endpoint closes the connection; returns everything read.</summary>
    public async Task<byte[]> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Inet.Timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                return received.ToArray();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"the endpoint did not close the connection within {(timeout ?? Inet.Timeout).TotalSeconds} s");
            }

            if (n == 0)
            {
                return received.ToArray();
            }

            received.Write(buffer, 0, n);
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
