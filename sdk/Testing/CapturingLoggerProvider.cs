using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Router.Sdk.Testing;

/// <summary>One log entry kept by <see cref="CapturingLoggerProvider"/>.</summary>
/// <param name="Level">The entry's level.</param>
/// <param name="Id">The entry's event id; netmods give each message its own.</param>
/// <param name="Message">The formatted message.</param>
public sealed record CapturedLogEntry(LogLevel Level, EventId Id, string Message);

/// <summary>
/// A logger factory and provider that keeps every entry at every level, for tests that
/// assert on what a netmod logs. Give it to the netmod as <see cref="NetmodContext.LoggerFactory"/>
/// (<see cref="NetmodTestContext.Create"/> does).
/// </summary>
/// <remarks>
/// Thread-safe: loggers may write from any thread while a test reads <see cref="Entries"/>.
/// Entries are kept until the instance is dropped; <see cref="Dispose"/> does nothing, so a
/// test can still read them after the netmod has disposed its logging.
/// </remarks>
public sealed class CapturingLoggerProvider : ILoggerFactory, ILoggerProvider
{
    /// <summary>Every entry logged so far, oldest first.</summary>
    public ConcurrentQueue<CapturedLogEntry> Entries { get; } = new();

    /// <summary>Whether an entry with event id <paramref name="eventId"/> (and, when given, a message
    /// matching <paramref name="message"/>) has been logged.</summary>
    /// <param name="eventId">The event id to look for.</param>
    /// <param name="message">A condition on the formatted message, or null for any message.</param>
    public bool Has(int eventId, Func<string, bool>? message = null) =>
        Entries.Any(e => e.Id.Id == eventId && (message is null || message(e.Message)));

    /// <summary>Returns a logger that adds to <see cref="Entries"/>, whatever the category.</summary>
    /// <param name="categoryName">The category; not kept.</param>
    public ILogger CreateLogger(string categoryName) => new Logger(this);

    /// <summary>Ignored: every entry is captured here and nowhere else.</summary>
    /// <param name="provider">The provider; not used.</param>
    public void AddProvider(ILoggerProvider provider)
    {
    }

    /// <summary>Does nothing; the entries stay readable.</summary>
    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue(new CapturedLogEntry(logLevel, eventId, formatter(state, exception)));
    }
}
