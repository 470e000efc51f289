using System.Net.Sockets;
using System.Text;

namespace Router.IntegrationTests;

/// <summary>
/// The client subcommands against something that is not a router on the API socket: a
/// document they cannot read (or print back) is a clear error and exit code 1, never a crash.
/// </summary>
public sealed class HostileApiTests : IDisposable
{
    private readonly TestMesh _mesh = new();

    public void Dispose() => _mesh.Dispose();

    [Theory]
    [InlineData("status", """{"address": 5""")]
    [InlineData("ping", """{"result":"reply","from":null,"rttMs":0.21e9995,"hopLimit":64}""")]
    public async Task MalformedDocument_IsReportedAndExitsWithOne(string command, string body)
    {
        var socketPath = Path.Combine(_mesh.Root, "fake.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var server = ServeAsync(listener, body, stop.Token);

        string[] args = command == "ping"
            ? ["ping", "00000001000000020000000300000004000000050000000600000007000000ff", "--count", "1", "--json", "--api", socketPath]
            : [command, "--json", "--api", socketPath];
        var result = await Cli.RunAsync(args);
        await stop.CancelAsync();
        await server;

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("router: the API's answer is not a valid response", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>Answers every request with 200 and <paramref name="body"/> as JSON.</summary>
    private static async Task ServeAsync(Socket listener, string body, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                using var client = await listener.AcceptAsync(cancellationToken);
                var buffer = new byte[8192];
                await client.ReceiveAsync(buffer, cancellationToken);
                var payload = Encoding.UTF8.GetBytes(body);
                var head = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n";
                await client.SendAsync(Encoding.ASCII.GetBytes(head).Concat(payload).ToArray(), cancellationToken);
                client.Shutdown(SocketShutdown.Both);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
    }
}
