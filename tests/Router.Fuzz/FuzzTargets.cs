using Router.Sdk;

namespace Router.Fuzz;

/// <summary>What the fuzz tests share: the input count, corpus helpers and the assertions every target makes on its <see cref="FuzzResult"/>.</summary>
internal static class FuzzTargets
{
    /// <summary>Inputs per target (override with <c>ROUTER_FUZZ_ITERATIONS</c>).</summary>
    public const long Iterations = 1_000_000;

    /// <summary>Longest frame made: the longest corpus frame is 280 bytes; mutations may add a little.</summary>
    public const int MaxFrameLength = 400;

    /// <summary>How much the live heap may grow across a run: a parser that keeps something per input would pass it within a million inputs.</summary>
    public const long RetainedBound = 2 * 1024 * 1024;

    public static RouterAddress RandomAddress(Random random)
    {
        Span<byte> bytes = stackalloc byte[RouterAddress.Length];
        random.NextBytes(bytes);
        return RouterAddress.Read(bytes);
    }

    /// <summary>Whether this is a full run rather than a replay of one input (<c>ROUTER_FUZZ_REPLAY</c>) or a tiny one.</summary>
    public static bool IsFullRun(FuzzResult result) => result.Iterations >= 1000;

    /// <summary>The run reached both verdicts (a full run), and left the heap as it found it.</summary>
    public static void AssertSound(FuzzResult result)
    {
        if (IsFullRun(result))
        {
            Assert.True(result.Accepted > 0, $"{result.Name}: no input was accepted; the corpus or the mutator is broken.");
            Assert.True(result.Accepted < result.Iterations, $"{result.Name}: every input was accepted; the mutations do not reach the parser's checks.");
        }

        Assert.True(result.RetainedBytes < RetainedBound, $"{result.Name}: the live heap grew by {result.RetainedBytes:N0} bytes (bound {RetainedBound:N0}).");
    }

    /// <summary>Span parsers allocate nothing per input: after the warm-up, not one byte (Release builds).</summary>
    public static void AssertAllocatesNothing(FuzzResult result)
    {
        if (IsOptimized)
        {
            Assert.True(result.AllocatedBytes == 0, $"{result.Name}: {result.AllocatedBytes:N0} bytes allocated over {result.MeasuredIterations:N0} inputs after the warm-up; expected none.");
        }
    }

    /// <summary>Whether the router was built with optimisations: Debug builds allocate where Release does not, so allocation asserts hold only in Release.</summary>
    public static bool IsOptimized { get; } =
        typeof(Router.Switching.FrameHeader).Assembly.GetCustomAttributes(typeof(System.Diagnostics.DebuggableAttribute), false)
            is not [System.Diagnostics.DebuggableAttribute { IsJITOptimizerDisabled: true }];
}
