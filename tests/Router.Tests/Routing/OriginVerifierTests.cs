using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>
/// Route origins are verified before the engine sees them: through <see cref="SignedRouter"/>,
/// which reads updates the way <see cref="RoutingService"/> does (verifier, then engine).
/// </summary>
public sealed class OriginVerifierTests : IDisposable
{
    private readonly SignedRouter _router = new();
    private readonly RouterIdentity _x = RouterIdentity.Create();
    private readonly RouterIdentity _y = RouterIdentity.Create();
    private readonly RoutingNeighbour _a;

    public OriginVerifierTests()
    {
        _a = _router.AddNeighbour(TestAddresses.Random());
    }

    public void Dispose()
    {
        _router.Dispose();
        _x.Dispose();
        _y.Dispose();
    }

    private OriginVerifier Verifier => _router.Verifier;

    private (long Unsigned, long BadKey, long BadSignature) Rejections => (Verifier.UnsignedRoutes, Verifier.BadOriginKeys, Verifier.BadOriginSignatures);

    [Fact]
    public void Receive_ValidlySignedRoute_IsInstalledWithItsProof()
    {
        var route = SignedUpdates.Route(_x, 10, 32);
        Assert.True(_router.Receive(_a, SignedUpdates.Payload(route)));

        var selected = _router.RouteTo(_x.Address);
        Assert.NotNull(selected);
        Assert.Equal(10, selected.Value.Seqno);
        Assert.Equal((0L, 0L, 0L), Rejections);
        Assert.Equal(1, Verifier.Verifications);
    }

    [Fact]
    public void Receive_KeyOfAnotherAddress_IsRejectedAsBadOriginKey()
    {
        // Y announces X's address with its own key, properly signed by Y.
        var forged = SignedUpdates.Route(_x.Address, 10, 32, _y.PublicKey, SignedUpdates.SignStatement(_y.Key, _x.Address, 10));
        _router.Receive(_a, SignedUpdates.Payload(forged));

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal((0L, 1L, 0L), Rejections);
        Assert.Equal(0, Verifier.Verifications);
    }

    [Fact]
    public void Receive_KeyThatHashesToTheAddressButIsNotAKey_IsRejectedAsBadOriginKey()
    {
        var notAKey = new byte[PublicKeys.SpkiLength];
        Random.Shared.NextBytes(notAKey);
        var origin = RouterIdentity.DeriveAddress(notAKey);
        _router.Receive(_a, SignedUpdates.Payload(SignedUpdates.Route(origin, 1, 1, notAKey, new byte[PublicKeys.SignatureLength])));

        Assert.Null(_router.RouteTo(origin));
        Assert.Equal((0L, 1L, 0L), Rejections);
    }

    [Fact]
    public void Receive_SignatureByAnotherKey_IsRejectedAsBadOriginSignature()
    {
        // X's real key, but the signature is Y's: Y cannot speak for X.
        var forged = SignedUpdates.Route(_x.Address, 10, 32, _x.PublicKey, SignedUpdates.SignStatement(_y.Key, _x.Address, 10));
        _router.Receive(_a, SignedUpdates.Payload(forged));

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal((0L, 0L, 1L), Rejections);
    }

    [Fact]
    public void Receive_SignatureOverAnotherSeqno_IsRejectedAsBadOriginSignature()
    {
        // X really signed seqno 10; a neighbour claims it as seqno 11 to look newer.
        var forged = SignedUpdates.Route(_x.Address, 11, 32, _x.PublicKey, SignedUpdates.SignStatement(_x.Key, _x.Address, 10));
        _router.Receive(_a, SignedUpdates.Payload(forged));

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal((0L, 0L, 1L), Rejections);
    }

    [Fact]
    public void Receive_SignatureOverAnotherSeqnoOfACachedOrigin_IsRejectedAsBadOriginSignature()
    {
        var signature10 = SignedUpdates.SignStatement(_x.Key, _x.Address, 10);
        _router.Receive(_a, SignedUpdates.Payload(SignedUpdates.Route(_x.Address, 10, 32, _x.PublicKey, signature10)));

        // X's genuine signature of seqno 10 relabelled as seqno 11: the cache knows X, but not this.
        var forged = SignedUpdates.Route(_x.Address, 11, 32, _x.PublicKey, signature10);
        _router.Receive(_a, SignedUpdates.Payload(forged));

        Assert.Equal(10, _router.RouteTo(_x.Address)!.Value.Seqno);
        Assert.Equal((0L, 0L, 1L), Rejections);
    }

    [Fact]
    public void Receive_UnsignedRoute_IsRejectedAsUnsignedRoute()
    {
        _router.Receive(_a, SignedUpdates.UnsignedPayload(_x.Address, 10, 32));

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal((1L, 0L, 0L), Rejections);
    }

    [Fact]
    public void Receive_BadEntriesAmongGoodOnes_OnlyTheBadOnesAreDropped()
    {
        using var z = RouterIdentity.Create();
        var payload = SignedUpdates.Payload(
            SignedUpdates.Route(_x.Address, 10, 32, _y.PublicKey, SignedUpdates.SignStatement(_y.Key, _x.Address, 10)),
            SignedUpdates.Route(_y, 4, 16),
            SignedUpdates.Route(z.Address, 1, 16, z.PublicKey, SignedUpdates.SignStatement(_y.Key, z.Address, 1)),
            SignedUpdates.Route(z, 2, 16));
        _router.Receive(_a, payload);

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal(4, _router.RouteTo(_y.Address)!.Value.Seqno);
        Assert.Equal(2, _router.RouteTo(z.Address)!.Value.Seqno);
        Assert.Equal((0L, 1L, 1L), Rejections);
    }

    [Fact]
    public void Receive_RetractionNeedsNoProof_AndWithdrawsTheNeighboursRoute()
    {
        _router.Receive(_a, SignedUpdates.Payload(SignedUpdates.Route(_x, 10, 32)));
        _router.Receive(_a, SignedUpdates.Payload(new RouteAdvert(_x.Address, 10, Metric.Infinity)));

        Assert.Null(_router.RouteTo(_x.Address));
        Assert.Equal((0L, 0L, 0L), Rejections);
    }

    [Fact]
    public void Receive_SameEntryAgain_IsAcceptedFromTheCacheWithoutVerifying()
    {
        var b = _router.AddNeighbour(TestAddresses.Random());
        var payload = SignedUpdates.Payload(SignedUpdates.Route(_x, 10, 32));
        _router.Receive(_a, payload);
        var first = SignedUpdates.Read(Verifier, payload)[0].Proof;

        _router.Receive(b, payload);
        _router.Receive(_a, payload);

        Assert.Equal(1, Verifier.Verifications);
        Assert.Equal(3, Verifier.CacheHits);

        // The cached proof itself is handed out: a repeated entry allocates no proof.
        Assert.Same(first, SignedUpdates.Read(Verifier, payload)[0].Proof);
    }

    [Fact]
    public void Receive_NewSeqnoThenTheOldOneAgain_VerifiesEachOnce()
    {
        // While a new seqno spreads, neighbours offer the old and the new one for a while.
        var old = SignedUpdates.Payload(SignedUpdates.Route(_x, 10, 32));
        var next = SignedUpdates.Payload(SignedUpdates.Route(_x, 11, 32));
        foreach (var payload in new[] { old, next, old, next, old })
        {
            _router.Receive(_a, payload);
        }

        Assert.Equal(2, Verifier.Verifications);
    }

    [Fact]
    public void Receive_AnotherKeyForACachedOrigin_IsRejectedWithoutVerifying()
    {
        _router.Receive(_a, SignedUpdates.Payload(SignedUpdates.Route(_x, 10, 32)));
        _router.Receive(_a, SignedUpdates.Payload(SignedUpdates.Route(_x.Address, 11, 32, _y.PublicKey, SignedUpdates.SignStatement(_y.Key, _x.Address, 11))));

        Assert.Equal(10, _router.RouteTo(_x.Address)!.Value.Seqno);
        Assert.Equal((0L, 1L, 0L), Rejections);
        Assert.Equal(1, Verifier.Verifications);
    }

    [Fact]
    public void TryReadUpdate_MoreOriginsThanTheCacheHolds_StaysBoundedAndStillVerifies()
    {
        using var verifier = new OriginVerifier(2);
        using var z = RouterIdentity.Create();
        var payload = SignedUpdates.Payload(SignedUpdates.Route(_x, 1, 1), SignedUpdates.Route(_y, 1, 1), SignedUpdates.Route(z, 1, 1));

        Assert.Equal(3, SignedUpdates.Read(verifier, payload).Count);
        Assert.Equal(2, verifier.CachedOrigins);

        // Whichever origin was evicted is verified again; the others come from the cache.
        Assert.Equal(3, SignedUpdates.Read(verifier, payload).Count);
        Assert.Equal(2, verifier.CachedOrigins);
        Assert.InRange(verifier.Verifications, 4, 6);
        Assert.Equal((0L, 0L, 0L), (verifier.UnsignedRoutes, verifier.BadOriginKeys, verifier.BadOriginSignatures));
    }
}
