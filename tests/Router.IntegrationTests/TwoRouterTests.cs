using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;

namespace Router.IntegrationTests;

/// <summary>Two real routers on loopback, linked by inet, used only through the CLI.</summary>
public sealed class TwoRouterTests : IAsyncLifetime
{
    private readonly TestMesh _mesh = new();
    private RouterProcess _a = null!;
    private RouterProcess _b = null!;
    private int _portA;

    public async Task InitializeAsync()
    {
        _portA = TestMesh.FreePort();
        var portB = TestMesh.FreePort();
        _a = new RouterProcess(_mesh.Config("a", _portA));
        _b = new RouterProcess(_mesh.Config("b", portB, peerPorts: [_portA]));
        await _a.StartAsync();
        await _b.StartAsync();
    }

    public async Task DisposeAsync()
    {
        // Fields are null when InitializeAsync failed part way: stop whatever did start.
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }

        if (_a is not null)
        {
            await _a.DisposeAsync();
        }

        _mesh.Dispose();
    }

    [Fact]
    public async Task SendFile_OneMegabyte_ArrivesByteForByte_AndTheLinkReturnsAfterARestart()
    {
        var addressA = await _a.AddressAsync();
        var addressB = await _b.AddressAsync();
        await _a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(20));
        await _b.WaitForPeerUpAsync(addressA, TimeSpan.FromSeconds(20));

        var file = Path.Combine(_mesh.Root, "payload.bin");
        var payload = RandomNumberGenerator.GetBytes(1024 * 1024);
        await File.WriteAllBytesAsync(file, payload);
        var received = Path.Combine(_mesh.Root, "received.bin");
        await Transfer.FileAsync(file, received, from: _a, to: _b, addressB);
        Assert.Equal(SHA256.HashData(payload), SHA256.HashData(await File.ReadAllBytesAsync(received)));

        // Restart B: same key, same address; the link comes back by itself.
        await _b.StopAsync();
        Assert.Equal(0, _b.ExitCode);
        await _a.WaitForNoPeerUpAsync(TimeSpan.FromSeconds(20));
        await _b.StartAsync();
        Assert.Equal(addressB, await _b.AddressAsync());
        await _a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(20));

        // And carries traffic again, this time from B to A.
        var back = Path.Combine(_mesh.Root, "back.bin");
        await _b.WaitForPeerUpAsync(addressA, TimeSpan.FromSeconds(20));
        await Transfer.FileAsync(file, back, from: _b, to: _a, addressA);
        Assert.Equal(payload, await File.ReadAllBytesAsync(back));
    }

    [Fact]
    public async Task Status_Json_HasTheDocumentedFields()
    {
        var addressA = await _a.AddressAsync();
        await _b.WaitForPeerUpAsync(addressA, TimeSpan.FromSeconds(20));
        var status = await _b.StatusAsync();

        Assert.Matches("^[0-9a-f]{8}(-[0-9a-f]{8}){7}$", status.GetProperty("address").GetString());
        var inet = Assert.Single(status.GetProperty("netmods").EnumerateArray());
        Assert.Equal("inet", inet.GetProperty("name").GetString());
        Assert.Equal("running", inet.GetProperty("state").GetString());
        var peer = Assert.Single(status.GetProperty("peers").EnumerateArray());
        Assert.Equal(addressA, peer.GetProperty("address").GetString());
        Assert.Equal("inet", peer.GetProperty("netmod").GetString());
        Assert.Equal("up", peer.GetProperty("state").GetString());

        var table = await Cli.RunAsync("peers", "--api", _b.ApiSocket);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains(addressA, table.Stdout, StringComparison.Ordinal);
        Assert.Contains("PEER", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendText_ToThisRouterItself_IsDeliveredToListen()
    {
        var address = await _a.AddressAsync();
        var lines = new List<string>();
        using var listen = Cli.Start(l => { lock (lines) lines.Add(l); }, "listen", "--api", _a.ApiSocket, "--json", "--count", "1");
        var sent = await Cli.RunAsync("send", "--api", _a.ApiSocket, "--to", address, "hello, mesh");
        Assert.True(sent.ExitCode == 0, sent.Stderr);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await listen.WaitForExitAsync(timeout.Token);
        string line;
        lock (lines)
        {
            line = lines.Single(l => l.StartsWith('{'));
        }

        var record = JsonDocument.Parse(line).RootElement;
        Assert.Equal(address, record.GetProperty("from").GetString());
        Assert.Equal("hello, mesh"u8.ToArray(), record.GetProperty("payload").GetBytesFromBase64());
    }

    [Fact]
    public async Task Send_ToAnUnknownRouter_FailsWithAClearMessage()
    {
        var nowhere = string.Join('-', Enumerable.Repeat("0123abcd", 8));
        var result = await Cli.RunAsync("send", "--api", _a.ApiSocket, "--to", nowhere, "anyone?");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"no route to {nowhere}", result.Stderr, StringComparison.Ordinal);

        var malformed = await Cli.RunAsync("send", "--api", _a.ApiSocket, "--to", "not-an-address", "x");
        Assert.Equal(1, malformed.ExitCode);
        Assert.Contains("is not a router address", malformed.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_OnTheInetPort_ClosesOnlyThatConnection()
    {
        var addressA = await _a.AddressAsync();
        var addressB = await _b.AddressAsync();
        await _b.WaitForPeerUpAsync(addressA, TimeSpan.FromSeconds(20));

        var random = new Random(99);
        for (var i = 0; i < 20; i++)
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", _portA);
            var junk = i == 0 ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray() : new byte[random.Next(1, 4096)];
            if (i > 0)
            {
                random.NextBytes(junk);
            }

            await client.GetStream().WriteAsync(junk);
            // The router closes the connection: a read ends (0 bytes or reset) instead of hanging.
            var stream = client.GetStream();
            stream.ReadTimeout = 15000;
            var buffer = new byte[256];
            var watch = Stopwatch.StartNew();
            try
            {
                while (await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(15)) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15));
        }

        Assert.False(_a.HasExited);
        await _a.WaitForPeerUpAsync(addressB, TimeSpan.FromSeconds(5));
        var sent = await Cli.RunAsync("send", "--api", _b.ApiSocket, "--to", addressA, "still here");
        Assert.True(sent.ExitCode == 0, sent.Stderr);
        Assert.Contains("not a Router inet peer", _a.Output, StringComparison.Ordinal);
    }
}
