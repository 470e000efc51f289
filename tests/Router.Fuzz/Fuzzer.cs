using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Router.Fuzz;

/// <summary>
/// A parser under fuzzing. Returns whether it accepted the input (counted, so a test can see
/// that both outcomes were reached). Any exception it lets out is a failure, including the
/// assertion exceptions of the consistency checks a target makes on what it accepted.
/// </summary>
internal delegate bool FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>Optional settings of a <see cref="Fuzzer.Run"/>.</summary>
internal sealed class FuzzOptions
{
    /// <summary>Longest input to make; the longest corpus entry if that is longer. Default 512 bytes.</summary>
    public int MaxLength { get; init; } = 512;

    /// <summary>Tokens the mutator inserts and overwrites with (for text formats: separators, keywords, numbers).</summary>
    public IReadOnlyList<byte[]>? Dictionary { get; init; }

    /// <summary>Iterations run before allocations are measured (JIT tiering, static initialisers, lists growing to size).</summary>
    public long WarmUpIterations { get; init; } = 20_000;

    /// <summary>
    /// How long the whole run may take before it fails as hung; the failure names the iteration
    /// it was stuck on. Default 2 minutes, far above the few seconds a target takes.
    /// </summary>
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Whether the <c>ROUTER_FUZZ_*</c> environment variables apply (the harness's own tests turn them off).</summary>
    public bool UseEnvironment { get; init; } = true;
}

/// <summary>What a <see cref="Fuzzer.Run"/> saw.</summary>
/// <param name="Name">The target's name.</param>
/// <param name="Seed">The seed used (after any <c>ROUTER_FUZZ_SEED</c> override).</param>
/// <param name="Iterations">Inputs run.</param>
/// <param name="Accepted">Inputs the target accepted.</param>
/// <param name="MeasuredIterations">Inputs after the warm-up, over which <paramref name="AllocatedBytes"/> was measured.</param>
/// <param name="AllocatedBytes">Bytes allocated on the fuzzing thread after the warm-up (the mutator allocates none).</param>
/// <param name="RetainedBytes">Growth of the live heap across the run, after full collections before and after.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
internal sealed record FuzzResult(
    string Name,
    ulong Seed,
    long Iterations,
    long Accepted,
    long MeasuredIterations,
    long AllocatedBytes,
    long RetainedBytes,
    TimeSpan Elapsed)
{
    /// <summary>Bytes allocated per input after the warm-up.</summary>
    public double AllocatedBytesPerInput => MeasuredIterations == 0 ? 0 : (double)AllocatedBytes / MeasuredIterations;

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Name}: {Iterations:N0} inputs (seed 0x{Seed:x}) in {Elapsed.TotalSeconds:F2} s, {Accepted:N0} accepted ({100.0 * Accepted / Math.Max(1, Iterations):F1} %), {AllocatedBytesPerInput:F2} B allocated per input after warm-up, live heap {RetainedBytes:+#,0;-#,0;0} B");
}

/// <summary>A fuzz target failed: threw, or hung. The message says how to replay the input.</summary>
internal sealed class FuzzFailureException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// Seeded mutation fuzzing without coverage feedback: a <see cref="Mutator"/> turns a corpus
/// of valid inputs into <c>iterations</c> mutated ones and a target parses each. The run is
/// deterministic: the same seed gives the same inputs, and iteration <c>i</c>'s input depends
/// only on the seed and <c>i</c> (<see cref="Input"/> rebuilds it).
/// <para>Adding a target takes a few lines: build a corpus with the real writers, then</para>
/// <code>
/// var result = Fuzzer.Run("link-handshake", corpus, seed: 0x5eed, iterations: 1_000_000,
///     input => LinkHandshake.TryRead(input, out _) == HandshakeError.None);
/// </code>
/// and assert on the <see cref="FuzzResult"/> (see the existing targets).
/// <para>Environment overrides, for soak runs and replays:</para>
/// <list type="bullet">
/// <item><c>ROUTER_FUZZ_SEED</c> (decimal or 0x-hex): use this seed instead of the test's.</item>
/// <item><c>ROUTER_FUZZ_ITERATIONS</c>: run this many inputs instead of the test's count.</item>
/// <item><c>ROUTER_FUZZ_REPLAY</c>: run only this iteration (with the seed from the failure), e.g. under a debugger.</item>
/// </list>
/// </summary>
internal static class Fuzzer
{
    public const string SeedVariable = "ROUTER_FUZZ_SEED";
    public const string IterationsVariable = "ROUTER_FUZZ_ITERATIONS";
    public const string ReplayVariable = "ROUTER_FUZZ_REPLAY";

    /// <summary>
    /// Runs <paramref name="target"/> on <paramref name="iterations"/> mutated inputs on a thread
    /// of its own. Throws <see cref="FuzzFailureException"/> on the first input the target throws
    /// on (naming the seed, the iteration, the mutations and the input in hex), or when the run
    /// exceeds <see cref="FuzzOptions.TimeLimit"/>.
    /// </summary>
    public static FuzzResult Run(string name, IReadOnlyList<byte[]> corpus, ulong seed, long iterations, FuzzTarget target, FuzzOptions? options = null)
    {
        options ??= new FuzzOptions();
        var environment = options.UseEnvironment;
        seed = environment && ReadNumber(SeedVariable) is { } seedOverride ? seedOverride : seed;
        iterations = environment && ReadNumber(IterationsVariable) is { } countOverride ? (long)countOverride : iterations;
        var first = 0L;
        if (environment && ReadNumber(ReplayVariable) is { } replay)
        {
            first = (long)replay;
            iterations = first + 1;
        }

        var mutator = new Mutator(corpus, options.MaxLength, options.Dictionary);
        var state = new RunState();
        var thread = new Thread(() => Loop(mutator, target, seed, first, iterations, options.WarmUpIterations, state))
        {
            IsBackground = true, // a target stuck in a loop must not keep the test host alive
            Name = $"fuzz {name}",
        };

        var retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var stopwatch = Stopwatch.StartNew();
        thread.Start();
        if (!thread.Join(options.TimeLimit))
        {
            var stuck = Volatile.Read(ref state.Iteration);
            throw new FuzzFailureException(
                $"Fuzz target '{name}' did not finish within {options.TimeLimit.TotalSeconds:F0} s; it was at iteration {stuck:N0} of {iterations:N0}. " +
                Describe(name, corpus, seed, stuck, options),
                null);
        }

        stopwatch.Stop();
        if (state.Failure is { } failure)
        {
            throw new FuzzFailureException(
                $"Fuzz target '{name}' threw {failure.GetType().Name} at iteration {state.Iteration:N0}: {failure.Message}\n" +
                Describe(name, corpus, seed, state.Iteration, options),
                failure);
        }

        var retainedAfter = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(mutator);
        return new FuzzResult(name, seed, iterations - first, state.Accepted, state.Measured, state.Allocated, retainedAfter - retainedBefore, stopwatch.Elapsed);
    }

    /// <summary>The input of <paramref name="iteration"/> under <paramref name="seed"/>, as <see cref="Run"/> made it (for regression tests).</summary>
    public static byte[] Input(IReadOnlyList<byte[]> corpus, ulong seed, long iteration, FuzzOptions? options = null)
    {
        options ??= new FuzzOptions();
        return new Mutator(corpus, options.MaxLength, options.Dictionary).Generate(seed, iteration).ToArray();
    }

    /// <summary>Bytes as UTF-8 text, for text targets (malformed sequences become U+FFFD).</summary>
    public static string Utf8(ReadOnlySpan<byte> input) => Encoding.UTF8.GetString(input);

    private static void Loop(Mutator mutator, FuzzTarget target, ulong seed, long first, long end, long warmUp, RunState state)
    {
        var allocatedAtWarmUp = GC.GetAllocatedBytesForCurrentThread();
        var measureFrom = Math.Min(first + warmUp, end);
        var accepted = 0L;
        var i = first;
        try
        {
            for (; i < end; i++)
            {
                if (i == measureFrom)
                {
                    allocatedAtWarmUp = GC.GetAllocatedBytesForCurrentThread();
                }

                // Published for the hang report; a plain store is enough for a number read after Join times out.
                state.Iteration = i;
                if (target(mutator.Generate(seed, i)))
                {
                    accepted++;
                }
            }

            state.Allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedAtWarmUp;
            state.Measured = end - measureFrom;
        }
        catch (Exception e)
        {
            state.Iteration = i;
            state.Failure = e;
        }

        state.Accepted = accepted;
    }

    /// <summary>Everything needed to reproduce one input: seed, iteration, mutations, bytes and how to replay.</summary>
    private static string Describe(string name, IReadOnlyList<byte[]> corpus, ulong seed, long iteration, FuzzOptions options)
    {
        var mutator = new Mutator(corpus, options.MaxLength, options.Dictionary);
        var input = mutator.Generate(seed, iteration);
        var mutations = mutator.AppliedCount == 0 ? "none (a corpus entry)" : string.Join(", ", mutator.Applied.ToArray());
        return $"Seed 0x{seed:x}, iteration {iteration}; mutations: {mutations}.\n" +
            $"Input ({input.Length} bytes): {Convert.ToHexStringLower(input)}\n" +
            $"Replay: {SeedVariable}=0x{seed:x} {ReplayVariable}={iteration} dotnet test tests/Router.Fuzz/Router.Fuzz.csproj -c Release --filter \"FullyQualifiedName~<the failing test>\" " +
            $"(or Fuzzer.Input(corpus, 0x{seed:x}, {iteration}) in a regression test).";
    }

    private static ulong? ReadNumber(string variable)
    {
        var text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        var parsed = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        return parsed ? value : throw new InvalidOperationException($"{variable}='{text}' is not a number (decimal or 0x-hex).");
    }

    /// <summary>Shared between the fuzzing thread and the caller; read by the caller only after Join.</summary>
    private sealed class RunState
    {
        public long Iteration;
        public long Accepted;
        public long Measured;
        public long Allocated;
        public Exception? Failure;
    }
}
