namespace Router.Fuzz;

/// <summary>The harness itself: determinism, replay, what a failure reports, hang detection, and that the mutator allocates nothing.</summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzerTests
{
    private static readonly byte[][] Corpus = [[1, 2, 3, 4, 5, 6, 7, 8], [.. Enumerable.Range(0, 100).Select(i => (byte)i)], []];

    // The harness's own checks run the counts they ask for, whatever ROUTER_FUZZ_* say.
    private static readonly FuzzOptions Fixed = new() { UseEnvironment = false };

    [Fact]
    public void Generate_SameSeedAndIteration_SameInput_AndDifferentOnesDiffer()
    {
        var a = new Mutator(Corpus, 256);
        var b = new Mutator(Corpus, 256);
        var distinct = new HashSet<string>();
        for (var i = 0L; i < 2000; i++)
        {
            var input = Convert.ToHexString(a.Generate(7, i));
            Assert.Equal(input, Convert.ToHexString(b.Generate(7, i)));
            distinct.Add(input);
        }

        Assert.True(distinct.Count > 1500, $"only {distinct.Count} distinct inputs in 2000");
        Assert.NotEqual(Convert.ToHexString(a.Generate(7, 5)), Convert.ToHexString(a.Generate(8, 5)));
    }

    [Fact]
    public void Generate_OrderIndependent_AnIterationCanBeRebuiltAlone()
    {
        var mutator = new Mutator(Corpus, 256);
        var inOrder = Enumerable.Range(0, 300).Select(i => Convert.ToHexString(mutator.Generate(99, i))).ToList();

        Assert.Equal(inOrder[250], Convert.ToHexString(Fuzzer.Input(Corpus, 99, 250, new FuzzOptions { MaxLength = 256 })));
    }

    [Fact]
    public void Generate_StaysWithinMaxLength_UsesEveryMutation_AndSometimesLeavesTheEntry()
    {
        var mutator = new Mutator(Corpus, 128);
        var used = new HashSet<Mutation>();
        var lengths = new HashSet<int>();
        var unmutated = 0;
        for (var i = 0L; i < 20_000; i++)
        {
            var input = mutator.Generate(1, i);
            Assert.InRange(input.Length, 0, 128);
            lengths.Add(input.Length);
            unmutated += mutator.AppliedCount == 0 ? 1 : 0;
            foreach (var mutation in mutator.Applied)
            {
                used.Add(mutation);
            }
        }

        Assert.Equal(Enum.GetValues<Mutation>().Length, used.Count);
        Assert.Contains(0, lengths);
        Assert.Contains(128, lengths);
        Assert.InRange(unmutated, 100, 800); // about 1 in 64
    }

    [Fact]
    public void Run_TargetThrows_ReportsSeedIterationMutationsAndInput()
    {
        var failure = Assert.Throws<FuzzFailureException>(() => Fuzzer.Run("throws", Corpus, seed: 0x1234, iterations: 1000, input =>
            input.Length > 90 && input[0] == 0 ? throw new InvalidOperationException("boom") : false, Fixed));

        var first = Enumerable.Range(0, 1000).First(i => Fuzzer.Input(Corpus, 0x1234, i) is { Length: > 90 } x && x[0] == 0);
        Assert.Contains("threw InvalidOperationException", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"Seed 0x1234, iteration {first};", failure.Message, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(Fuzzer.Input(Corpus, 0x1234, first)), failure.Message, StringComparison.Ordinal);
        Assert.Contains($"ROUTER_FUZZ_REPLAY={first}", failure.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(failure.InnerException);
    }

    [Fact]
    public void Run_TargetHangs_FailsAfterTheTimeLimitNamingTheIteration()
    {
        // Not disposed: the fuzzing thread may still be returning from Wait when the test ends.
        var release = new ManualResetEventSlim();
        try
        {
            var failure = Assert.Throws<FuzzFailureException>(() => Fuzzer.Run("hangs", Corpus, seed: 5, iterations: 10_000, input =>
            {
                if (input.Length == 100 && input[50] == 50)
                {
                    release.Wait(); // stands for an endless loop, without burning a core
                }

                return true;
            }, new FuzzOptions { TimeLimit = TimeSpan.FromMilliseconds(500), UseEnvironment = false }));

            Assert.Contains("did not finish within", failure.Message, StringComparison.Ordinal);
            Assert.Contains("Seed 0x5, iteration", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public void Run_CountsAcceptedInputs_AndTheMutatorAllocatesNothing()
    {
        var result = Fuzzer.Run("no-op", Corpus, seed: 3, iterations: 100_000, input => input.Length % 2 == 0, new FuzzOptions { WarmUpIterations = 1000, UseEnvironment = false });

        Assert.Equal(100_000, result.Iterations);
        Assert.Equal(99_000, result.MeasuredIterations);
        Assert.InRange(result.Accepted, 30_000, 70_000);
        FuzzTargets.AssertAllocatesNothing(result);
    }

    [Fact]
    public void Run_ReplayVariable_RunsOnlyThatIterationWithTheGivenSeed()
    {
        var seen = new List<string>();
        Environment.SetEnvironmentVariable(Fuzzer.SeedVariable, "0x63");
        Environment.SetEnvironmentVariable(Fuzzer.ReplayVariable, "250");
        try
        {
            var result = Fuzzer.Run("replay", Corpus, seed: 1, iterations: 1_000_000, input =>
            {
                seen.Add(Convert.ToHexString(input));
                return true;
            });

            Assert.Equal(1, result.Iterations);
            Assert.Equal(0x63UL, result.Seed);
        }
        finally
        {
            Environment.SetEnvironmentVariable(Fuzzer.SeedVariable, null);
            Environment.SetEnvironmentVariable(Fuzzer.ReplayVariable, null);
        }

        Assert.Equal([Convert.ToHexString(Fuzzer.Input(Corpus, 99, 250))], seen);
    }
}
