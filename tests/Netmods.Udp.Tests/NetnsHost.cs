using System.Globalization;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Udp.Tests;

/// <summary>
/// The entry point of this assembly when it runs as a program rather than under the test
/// runner: the namespace tests start it inside each network namespace with
/// <c>dotnet Netmods.Udp.Tests.dll netns-host ...</c>.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == NetnsHost.Command)
        {
            return await NetnsHost.RunAsync(args[1..]);
        }

        await Console.Error.WriteLineAsync($"This is a test assembly: run it with dotnet test, or as '{NetnsHost.Command} ADDRESS LISTEN LIFETIME_SECONDS'.");
        return 2;
    }
}

/// <summary>
/// A router's udp netmod alone, with discovery on and no peers: prints <c>READY</c> once
/// started, then <c>UP address remote</c> / <c>DOWN address remote</c> for each neighbour
/// event, logs to stderr, and exits when stdin closes (its test ended) or its lifetime is up,
/// whichever is first, so it can never outlive a test by long.
/// </summary>
internal static class NetnsHost
{
    public const string Command = "netns-host";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 3
            || !RouterAddress.TryParse(args[0], out var address)
            || !double.TryParse(args[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var lifetimeSeconds))
        {
            await Console.Error.WriteLineAsync($"usage: {Command} ADDRESS LISTEN LIFETIME_SECONDS");
            return 2;
        }

        using var lifetime = new CancellationTokenSource(TimeSpan.FromSeconds(lifetimeSeconds));
        _ = Task.Run(async () =>
        {
            // The test holds our stdin open; when it closes, the test is over.
            while (await Console.In.ReadLineAsync() is not null)
            {
            }

            await lifetime.CancelAsync();
        });

        var settings = new Dictionary<string, string?>
        {
            ["Listen:0"] = args[1],
            ["Discovery"] = "true",
            ["DiscoveryIntervalSeconds"] = "0.5",
            ["KeepaliveSeconds"] = "0.5",
            ["DeadPeerTimeoutSeconds"] = "3",
        };
        using var logs = new StderrLoggers();
        var netmod = new UdpFactory().Create(Udp.Context(settings, address, logs));
        try
        {
            await netmod.StartAsync(lifetime.Token);
            Console.WriteLine("READY");
            await foreach (var e in netmod.NeighbourEvents.ReadAllAsync(lifetime.Token))
            {
                Console.WriteLine($"{(e.Kind == NeighbourEventKind.Up ? "UP" : "DOWN")} {e.Address} {e.RemoteEndpoint}");
            }
        }
        catch (OperationCanceledException) when (lifetime.IsCancellationRequested)
        {
            // Done.
        }
        finally
        {
            await netmod.DisposeAsync();
        }

        return 0;
    }

    /// <summary>Every log entry as one stderr line, so a failing test can show what happened.</summary>
    private sealed class StderrLoggers : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger();

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Logger : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {eventId.Id} {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception)}");
        }
    }
}
