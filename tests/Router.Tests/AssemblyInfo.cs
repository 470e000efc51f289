// The router runs on Linux; its tests use Unix file modes and sockets freely.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Router.Tests
{
    /// <summary>
    /// Tests that keep both cores busy (routing simulations) and tests that need timely timers
    /// (routers running in-process) share this collection, so xunit runs them one at a time
    /// instead of letting the first starve the second.
    /// </summary>
    [CollectionDefinition(Name)]
    public sealed class CpuHeavyCollection
    {
        public const string Name = "cpu-heavy";
    }
}
