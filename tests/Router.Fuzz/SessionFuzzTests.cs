using System.Security.Cryptography;
using Router.Identity;
using Router.Security;
using Router.Security.Sessions;
using Router.Switching;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// The end-to-end session parsers on mutated input, checked the way the session service
/// checks them: an Init or Accept is used only if its identity key belongs to its sender and
/// its signature verifies (each accepted-looking input costs a signature check, so fewer
/// inputs); a sealed message is used only if it opens. No altered input may pass.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class SessionFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly RouterIdentity _a = RouterIdentity.Create();
    private readonly RouterIdentity _b = RouterIdentity.Create();

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
    }

    [Fact]
    public void InitAndAccept_MutatedMessages_NoAlteredOneVerifies()
    {
        using var ephemeralA = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var ephemeralB = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        var init = new byte[HandshakeMessages.InitLength];
        HandshakeMessages.WriteInit(init, _a, _b.Address, 7, 0, 123_456, HandshakeMessages.ExportEphemeralKey(ephemeralA));
        var accept = new byte[HandshakeMessages.AcceptLength];
        HandshakeMessages.WriteAccept(accept, _b, _a.Address, init, 9, HandshakeMessages.ExportEphemeralKey(ephemeralB));

        var result = Fuzzer.Run("session-handshake", [init, accept], seed: 0x5E55, 200_000, input =>
        {
            bool valid;
            if (HandshakeMessages.IsInit(input))
            {
                valid = PublicKeys.BelongsTo(HandshakeMessages.InitIdentityKey(input), _a.Address) && HandshakeMessages.VerifyInit(input, _a.Address, _b.Address);
                _ = HandshakeMessages.InitiatorId(input) + HandshakeMessages.LostId(input) + HandshakeMessages.Timestamp(input);
                if (valid && !input.SequenceEqual(init))
                {
                    Check.Fail("an altered Init verified");
                }
            }
            else if (HandshakeMessages.IsAccept(input))
            {
                valid = PublicKeys.BelongsTo(HandshakeMessages.AcceptIdentityKey(input), _b.Address) && HandshakeMessages.VerifyAccept(input, init, _a.Address, _b.Address);
                _ = HandshakeMessages.ResponderId(input);
                if (valid && !input.SequenceEqual(accept))
                {
                    Check.Fail("an altered Accept verified");
                }
            }
            else
            {
                return false;
            }

            if (HandshakeMessages.TryImportEphemeralKey(HandshakeMessages.IsInit(input) ? HandshakeMessages.InitEphemeralKey(input) : HandshakeMessages.AcceptEphemeralKey(input), out var key))
            {
                key!.Dispose();
            }

            return valid;
        }, new FuzzOptions { MaxLength = HandshakeMessages.InitLength + 16 });
        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
    }

    [Fact]
    public void SealedMessage_MutatedMessages_NoneOpens()
    {
        using var aead = new AeadKey(RandomNumberGenerator.GetBytes(32));
        var corpus = new[] { 0, 1, 100, 1400 }.Select(size =>
        {
            var plaintext = RandomNumberGenerator.GetBytes(size);
            var sealedMessage = new byte[size + SealedMessage.Overhead];
            var aad = new byte[SealedMessage.AssociatedDataLength];
            SealedMessage.WriteAssociatedData(aad, FrameKind.Message, _b.Address, _a.Address, 1, (uint)sealedMessage.Length);
            SealedMessage.Seal(aead, 0, 5, (ulong)size + 1, aad, plaintext, sealedMessage);
            return sealedMessage;
        }).ToArray();
        var opened = new byte[2000];

        var result = Fuzzer.Run("sealed-message", corpus, seed: 0x5EA7, FuzzTargets.Iterations, input =>
        {
            if (input.Length < SealedMessage.Overhead)
            {
                return false;
            }

            _ = SealedMessage.ReceiverId(input) + SealedMessage.Counter(input);
            Span<byte> aad = stackalloc byte[SealedMessage.AssociatedDataLength];
            SealedMessage.WriteAssociatedData(aad, FrameKind.Message, _b.Address, _a.Address, 1, (uint)input.Length);
            var ok = SealedMessage.TryOpen(aead, 0, input, aad, opened);
            // The receiver session id (first 4 bytes) only picks the key: a wrong one finds another
            // session's key or none. Everything after it is bound by the nonce and the tag.
            var genuine = false;
            foreach (var candidate in corpus)
            {
                genuine |= input[4..].SequenceEqual(candidate.AsSpan(4));
            }

            if (ok && !genuine)
            {
                Check.Fail("an altered sealed message opened");
            }

            return ok;
        }, new FuzzOptions { MaxLength = 1500 });
        output.WriteLine(result.ToString());
        Assert.True(result.RetainedBytes < FuzzTargets.RetainedBound);
    }
}
