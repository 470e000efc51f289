using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Router.Hosting;

/// <summary>
/// SIGHUP reloads the configuration, as for daemons since inetd: <c>kill -HUP PID</c> or
/// <c>systemctl reload</c> does what <c>router reload</c> does; the outcome goes to the log.
/// Registered only by the <c>router</c> process: a signal belongs to the whole process, not to
/// one of the routers a test runs inside it.
/// </summary>
internal sealed partial class ReloadSignal : IHostedService, IDisposable
{
    private readonly ConfigReloader _reloader;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private PosixSignalRegistration? _registration;

    public ReloadSignal(ConfigReloader reloader, ILogger<ReloadSignal> logger)
    {
        _reloader = reloader;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            // Handled: without this the runtime would apply the default action and end the process.
            context.Cancel = true;
            Log.Received(_logger);
            _ = Task.Run(() => ReloadAsync(_stopping.Token), CancellationToken.None);
        });
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _registration?.Dispose();
        await _stopping.CancelAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        _registration?.Dispose();
        _stopping.Dispose();
    }

    private async Task ReloadAsync(CancellationToken cancellationToken)
    {
        try
        {
            // The reloader logs what it did or why it refused.
            await _reloader.ReloadFromFileAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.Failed(_logger, e);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "SIGHUP received: reloading the configuration")]
        public static partial void Received(ILogger logger);

        [LoggerMessage(EventId = 1312, Level = LogLevel.Error, Message = "Reload after SIGHUP failed")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
