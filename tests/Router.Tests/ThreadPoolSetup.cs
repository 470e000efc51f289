using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Router.Tests;

/// <summary>Sets the thread pool up when the test assembly loads, before any test runs.</summary>
internal static class ThreadPoolSetup
{
    /// <summary>
    /// The test host keeps thread-pool threads of its own blocked while tests run (the adapter
    /// waits for the run; its message loop polls a socket), and on two cores the pool starts with
    /// two workers. Routers running in-process then see timers and channel continuations stall for
    /// half a second at a time while the pool adds threads, and links with 100-ms hellos are judged
    /// lost: measured with three routers in one test, the pool ran a queued item 0.5–0.9 s late at
    /// start and again seconds later, and every route was lost at each stall. Tests would measure
    /// the host, not the router. (The inet and udp netmod tests do the same in their helpers.)
    /// </summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "A test assembly: the pool must be set before the first test, whichever runs first.")]
    internal static void Initialize()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), Math.Max(io, 32));
    }
}
