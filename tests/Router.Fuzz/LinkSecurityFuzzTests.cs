using Router.Identity;
using Router.Sdk;
using Router.Security.Links;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// The link layer's parsers on mutated input: the handshake message reader (a million inputs,
/// allocation-free), the whole handshake state machine (which runs ECDH and ECDSA on what it
/// accepts, so fewer inputs), and the control-frame seal (a million forged trailers: none may open).
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class LinkSecurityFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly RouterIdentity _a = RouterIdentity.Create();
    private readonly RouterIdentity _b = RouterIdentity.Create();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    /// <summary>Real messages: B's first message, and B's proof answering A's ephemeral key.</summary>
    private (LinkHandshake A, byte[][] Corpus) Setup()
    {
        var a = new LinkHandshake(_a, _b.Address, []);
        using var b = new LinkHandshake(_b, _a.Address, []);
        var first = new byte[LinkHandshakeMessage.Size];
        b.Write(first);
        var fromA = new byte[LinkHandshakeMessage.Size];
        a.Write(fromA);
        b.Receive(fromA, _a.Address);
        var proof = new byte[LinkHandshakeMessage.Size];
        b.Write(proof);
        return (a, [first, proof]);
    }

    [Fact]
    public void HandshakeMessage_MillionMutatedPayloads_ParsesWithoutAllocating()
    {
        var (a, corpus) = Setup();
        using (a)
        {
            var result = Fuzzer.Run("link-handshake-message", corpus, seed: 0x11CE, FuzzTargets.Iterations,
                input => LinkHandshakeMessage.TryRead(input, out _) == LinkHandshakeMessage.Error.None,
                new FuzzOptions { MaxLength = LinkHandshakeMessage.Size + 64 });
            output.WriteLine(result.ToString());
            FuzzTargets.AssertSound(result);
            FuzzTargets.AssertAllocatesNothing(result);
        }
    }

    [Fact]
    public void Handshake_MutatedMessages_NeverAuthenticateAnAlteredProof()
    {
        var (a, corpus) = Setup();
        using (a)
        {
            var proof = corpus[1];
            var result = Fuzzer.Run("link-handshake", corpus, seed: 0x11CF, 20_000, input =>
            {
                // The proof itself is not fed: a pair's keys are given out once, so after it no
                // forgery could show. Its confirmed flag is no part of the proof (the sender sets
                // it later), so with that flag flipped it is still the proof.
                if (IsTheProof(input, proof))
                {
                    return true;
                }

                var step = a.Receive(input, _b.Address);
                if (step.Keys is not null)
                {
                    Check.Fail("an altered proof authenticated the link");
                }

                return step.Failure == HandshakeFailure.None;
            }, new FuzzOptions { MaxLength = LinkHandshakeMessage.Size + 16 });
            output.WriteLine(result.ToString());
            FuzzTargets.AssertSound(result);
        }
    }

    private static bool IsTheProof(ReadOnlySpan<byte> input, ReadOnlySpan<byte> proof) =>
        input.Length == proof.Length && input[0] == proof[0] && (input[1] | 2) == (proof[1] | 2) && input[2..].SequenceEqual(proof[2..]);

    [Fact]
    public void SealedControlFrame_MillionForgedFrames_NoneOpens()
    {
        var key = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        using var sender = new LinkSession(new LinkKeys(key, key));
        using var receiver = new LinkSession(new LinkKeys(key, key));
        var corpus = Enumerable.Range(0, 8).Select(i =>
        {
            var frame = new byte[100 + (i * 40) + LinkSession.TrailerSize];
            new Random(i).NextBytes(frame);
            sender.Seal(frame, frame.Length - LinkSession.TrailerSize);
            return frame;
        }).ToArray();

        // The genuine frames open once; every mutation of them (and every replay) must not.
        foreach (var frame in corpus)
        {
            Assert.Equal(SealFailure.None, receiver.TryOpen(frame, out _));
        }

        var result = Fuzzer.Run("link-seal", corpus, seed: 0x5EA1, FuzzTargets.Iterations, input =>
        {
            var opened = receiver.TryOpen(input, out _) == SealFailure.None;
            if (opened)
            {
                Check.Fail("a forged or replayed control frame opened");
            }

            return opened;
        }, new FuzzOptions { MaxLength = 600 });
        output.WriteLine(result.ToString());
        Assert.Equal(0, result.Accepted);

        // No allocation assert: .NET reports a bad AES-GCM tag by exception (about 140 bytes and
        // 10 µs each). A peer can make us pay that only up to the per-link control-frame budget.
    }
}
