// The router runs on Linux; like Router.Tests, these tests assume it.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Router.Fuzz
{
    /// <summary>
    /// CPU heavy: every fuzz target runs about a million inputs on one core. The collection runs
    /// alone (no other collection of this assembly beside it) so the timings and the heap
    /// measurements (<see cref="FuzzResult.RetainedBytes"/> is process-wide) mean something.
    /// Filter them out of a quick run with <c>--filter Category!=CpuHeavy</c>.
    /// </summary>
    [CollectionDefinition(Name, DisableParallelization = true)]
    public sealed class FuzzCollection
    {
        public const string Name = "fuzz (cpu-heavy)";

        /// <summary>The trait value fuzz tests carry: <c>[Trait("Category", FuzzCollection.CpuHeavy)]</c>.</summary>
        public const string CpuHeavy = "CpuHeavy";
    }
}
