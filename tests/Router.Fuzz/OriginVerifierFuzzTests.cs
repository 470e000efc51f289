using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// <see cref="OriginVerifier.TryReadUpdate"/>, the receive path of updates, on mutated updates
/// full of genuinely signed routes: the first code that hands untrusted key and signature bytes
/// to the crypto library. It must not throw, must agree with <see cref="UpdateMessage.TryRead"/>
/// on what is malformed, and must accept no route whose (origin, seqno, signature, prefix block)
/// the origin did not sign — mutations cannot forge a signature, so every accepted proof must
/// be one of the corpus's. Fewer inputs than the other targets: a signature check costs tens
/// of microseconds. One verifier serves the whole run (its cache is part of what is fuzzed), so
/// a failure replays by running from iteration 0 with the reported seed, not by iteration alone.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class OriginVerifierFuzzTests(ITestOutputHelper output)
{
    private const long Iterations = 100_000;

    private readonly HashSet<string> _genuine = [];

    [Fact]
    public void TryReadUpdate_MutatedSignedUpdates_AcceptsOnlyGenuineProofs()
    {
        var corpus = Corpus();
        using var verifier = new OriginVerifier(capacity: 3); // fewer than the origins: eviction is exercised too
        var routes = new List<RouteAdvert>();
        var result = Fuzzer.Run("origin-verifier", corpus, seed: 0x0819, Iterations, input =>
        {
            var accepted = verifier.TryReadUpdate(input, routes, out _);
            if (accepted != UpdateMessage.TryRead(input, out _, out _))
            {
                Check.Fail($"TryReadUpdate said {accepted}; UpdateMessage.TryRead disagrees.");
            }

            foreach (var route in routes)
            {
                if (route.Metric == Metric.Infinity)
                {
                    continue;
                }

                if (route.Proof is not { } proof || proof.Seqno != route.Seqno || !PublicKeys.BelongsTo(proof.PublicKey, route.Origin) ||
                    !_genuine.Contains(Key(route.Origin, proof.Seqno, proof.Signature, proof.PrefixBlock)))
                {
                    Check.Fail($"Accepted route to {route.Origin} seqno {route.Seqno} with {route.Proof?.ToString() ?? "no proof"}, which its origin did not sign.");
                }
            }

            return accepted && routes.Count > 0;
        }, new FuzzOptions { MaxLength = 1400, WarmUpIterations = 0 });

        output.WriteLine(result.ToString());
        output.WriteLine($"signatures checked {verifier.Verifications:N0}, cache hits {verifier.CacheHits:N0}, bad keys {verifier.BadOriginKeys:N0}, bad signatures {verifier.BadOriginSignatures:N0}, unsigned {verifier.UnsignedRoutes:N0}");
        FuzzTargets.AssertSound(result);
        Assert.True(!FuzzTargets.IsFullRun(result) || (verifier.BadOriginSignatures > 0 && verifier.CacheHits > 0), "the mutations did not reach both the signature check and the cache");
    }

    private static string Key(RouterAddress origin, ushort seqno, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> prefixBlock) =>
        $"{origin}/{seqno}/{Convert.ToHexStringLower(signature)}/{Convert.ToHexStringLower(prefixBlock)}";

    /// <summary>Updates of signed routes from five origins (two seqnos each, <see cref="SignedRoutes"/>) and retractions, written by <see cref="UpdateMessage.Write"/>.</summary>
    private List<byte[]> Corpus()
    {
        var random = new Random(9);
        var signed = SignedRoutes.Routes();
        foreach (var route in signed)
        {
            _genuine.Add(Key(route.Origin, route.Seqno, route.Proof!.Signature, route.Proof.PrefixBlock));
        }

        var corpus = new List<byte[]>();
        for (var i = 0; i < 12; i++)
        {
            RouteAdvert[] routes =
            [
                .. Enumerable.Range(0, 1 + (i % 5)).Select(_ => signed[random.Next(signed.Length)] with { Metric = (ushort)random.Next(0, 2000) }),
                .. i % 3 == 0 ? [new RouteAdvert(FuzzTargets.RandomAddress(random), 1, Metric.Infinity)] : Array.Empty<RouteAdvert>(),
            ];
            var payload = new byte[UpdateMessage.Size(routes)];
            UpdateMessage.Write(payload, 400, routes);
            corpus.Add(payload);
        }

        return corpus;
    }
}
