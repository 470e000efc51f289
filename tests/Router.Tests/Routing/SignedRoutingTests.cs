using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>
/// Signed routes in the engine: proofs travel with routes unchanged, a router signs its own
/// route once per seqno, and replaying an origin's older (validly signed) seqno cannot move a
/// destination's selected seqno backwards.
/// </summary>
public sealed class SignedRoutingTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var owned in _owned)
        {
            owned.Dispose();
        }
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    [Fact]
    public void Receive_ReplayOfAnOlderSignedSeqno_IsNotSelectedAndTheSeqnoNeverGoesBack()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());

        // X's route via A at seqno s, then s + 1; the router advertises both (to B), so its
        // feasibility distance for X is at s + 1.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 32)));
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 501, 32)));
        Assert.Equal((a, (ushort)501), (router.RouteTo(x.Address)!.Value.NextHop, router.RouteTo(x.Address)!.Value.Seqno));

        // B replays X's genuine entry for seqno s with the best possible metric.
        router.Receive(b, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 0)));

        Assert.Equal(0L, router.Verifier.BadOriginSignatures);
        var selected = router.RouteTo(x.Address)!.Value;
        Assert.Same(a, selected.NextHop);
        Assert.Equal(501, selected.Seqno);

        // Even with the newer route gone, the replayed seqno is not selected: X is unreachable
        // until a route with seqno s + 1 or newer comes back.
        router.Engine.NeighbourDown(a, router.Now);
        Assert.Null(router.RouteTo(x.Address));
        Assert.Contains("fd 501/", router.Engine.Describe(x.Address), StringComparison.Ordinal);

        router.Receive(b, SignedUpdates.Payload(SignedUpdates.Route(x, 501, 40)));
        Assert.Equal((b, (ushort)501), (router.RouteTo(x.Address)!.Value.NextHop, router.RouteTo(x.Address)!.Value.Seqno));
    }

    [Fact]
    public void Advertise_SelectedRoute_CarriesTheProofItWasReceivedWith()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());
        var received = SignedUpdates.Route(x, 9, 32);
        router.Receive(a, SignedUpdates.Payload(received));

        using var downstream = new OriginVerifier(8);
        var sent = SignedUpdates.Read(downstream, router.LastSentTo(b)).Single(r => r.Origin == x.Address);

        Assert.Equal(9, sent.Seqno);
        Assert.Equal(received.Proof!.Signature, sent.Proof!.Signature);
        Assert.Equal(x.PublicKey, sent.Proof.PublicKey);
        Assert.True(sent.Metric > 32);
    }

    [Fact]
    public void Routes_ThroughAMiddleRouter_ArriveVerifiedWithTheOriginsSeqno()
    {
        // P - Q - T: T learns P's route from Q, signed by P.
        var p = Own(new SignedRouter(initialSeqno: 1000));
        var q = Own(new SignedRouter(initialSeqno: 2000));
        var t = Own(new SignedRouter(initialSeqno: 3000));
        var pq = p.AddNeighbour(q.Address);
        var qp = q.AddNeighbour(p.Address);
        var qt = q.AddNeighbour(t.Address);
        var tq = t.AddNeighbour(q.Address);

        q.Receive(qp, p.LastSentTo(pq));
        foreach (var (_, payload) in q.Sent.Where(s => s.To == qt))
        {
            Assert.True(t.Receive(tq, payload));
        }

        Assert.Equal(1000, t.RouteTo(p.Address)!.Value.Seqno);
        Assert.Equal(2000, t.RouteTo(q.Address)!.Value.Seqno);
        Assert.Equal((0L, 0L, 0L), (t.Verifier.UnsignedRoutes, t.Verifier.BadOriginKeys, t.Verifier.BadOriginSignatures));
        Assert.Equal(1, p.Signer.Signatures);
    }

    [Fact]
    public void OwnRoute_IsSignedOncePerSeqno()
    {
        var router = Own(new SignedRouter(initialSeqno: 7));
        var a = router.AddNeighbour(TestAddresses.Random());
        router.AddNeighbour(TestAddresses.Random());

        // Full updates to two neighbours, then a periodic full update to both.
        router.Engine.Tick(router.Now + TimeSpan.FromSeconds(5));
        Assert.True(router.Sent.Count >= 4);
        Assert.Equal(1, router.Signer.Signatures);

        // A seqno request makes the router move to a new seqno: one more signature.
        router.Engine.OnSeqnoRequest(a, new SeqnoRequest(router.Address, 8, 64), router.Now);
        Assert.Equal(8, router.Engine.OwnSeqno);
        Assert.Equal(2, router.Signer.Signatures);

        using var neighbour = new OriginVerifier(8);
        var own = SignedUpdates.Read(neighbour, router.LastSentTo(a)).Single(r => r.Origin == router.Address);
        Assert.Equal((8, 0), (own.Seqno, own.Metric));
        Assert.Equal(1, neighbour.Verifications);
    }

    [Fact]
    public void Receive_OwnAddressWithANewerSeqno_MovesPastItOnlyWhenSignedByThisRouter()
    {
        var router = Own(new SignedRouter(initialSeqno: 7));
        var other = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());

        // A retraction carries no proof: anyone could send one, so it does not move the seqno.
        router.Receive(a, SignedUpdates.Payload(new RouteAdvert(router.Address, 5000, Metric.Infinity)));
        Assert.Equal(7, router.Engine.OwnSeqno);

        // Nor does a route signed by another key.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(router.Address, 5000, 10, router.Identity.PublicKey, SignedUpdates.SignStatement(other.Key, router.Address, 5000))));
        Assert.Equal(7, router.Engine.OwnSeqno);
        Assert.Equal(1, router.Verifier.BadOriginSignatures);

        // Its own signature of seqno 5000 (from before a restart, say) does.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(router.Identity, 5000, 10)));
        Assert.Equal(5001, router.Engine.OwnSeqno);
    }

    [Fact]
    public void SeqnoRequest_ForOwnAddressFarAhead_MovesTheSeqnoOnByOneOnly()
    {
        var router = Own(new SignedRouter(initialSeqno: 7));
        var a = router.AddNeighbour(TestAddresses.Random());

        // Unsigned: whoever asks for 7 + 0x7FFF gets 8 (RFC 8966 §3.8.1.2), and the answer.
        router.Engine.OnSeqnoRequest(a, new SeqnoRequest(router.Address, 7 + 0x7FFF, 64), router.Now);
        Assert.Equal(8, router.Engine.OwnSeqno);
        using var neighbour = new OriginVerifier(8);
        Assert.Equal(8, SignedUpdates.Read(neighbour, router.LastSentTo(a)).Single(r => r.Origin == router.Address).Seqno);

        // Asking for a seqno that is not newer moves nothing; across the wrap, one step again.
        router.Engine.OnSeqnoRequest(a, new SeqnoRequest(router.Address, 8, 64), router.Now);
        Assert.Equal(8, router.Engine.OwnSeqno);
        var wrapping = Own(new SignedRouter(initialSeqno: ushort.MaxValue));
        var b = wrapping.AddNeighbour(TestAddresses.Random());
        wrapping.Engine.OnSeqnoRequest(b, new SeqnoRequest(wrapping.Address, 0x7000, 64), wrapping.Now);
        Assert.Equal(0, wrapping.Engine.OwnSeqno);
    }

    [Fact]
    public void Restart_BehindTheSeqnoANeighbourAdvertised_TheNeighbourHandsBackTheSignatureAndTheOriginMovesPastIt()
    {
        // O at seqno 5000, known to B, which passes O's route on to C (so B's FD for O is 5000).
        var identity = Own(RouterIdentity.Create());
        var o = Own(new SignedRouter(initialSeqno: 5000, identity: identity));
        var b = Own(new SignedRouter(initialSeqno: 300));
        var ob = o.AddNeighbour(b.Address);
        var bo = b.AddNeighbour(o.Address);
        b.AddNeighbour(TestAddresses.Random());
        o.DeliverTo(b, ob, bo);
        Assert.Equal(5000, b.RouteTo(o.Address)!.Value.Seqno);

        // O restarts at seqno 100, far behind (a random start seqno is behind half the time).
        b.Engine.NeighbourDown(bo, b.Now);
        var restarted = Own(new SignedRouter(initialSeqno: 100, identity: identity));
        var restartedB = restarted.AddNeighbour(b.Address);
        var bRestarted = b.AddNeighbour(o.Address);
        restarted.DeliverTo(b, restartedB, bRestarted);

        // B cannot use seqno 100 (not feasible); a seqno request would move O on by one. Instead
        // B hands O its own signature of 5000, and O moves past it.
        Assert.Null(b.RouteTo(o.Address));
        Assert.Equal(1, b.Engine.OwnProofsReturned);
        b.DeliverTo(restarted, bRestarted, restartedB);
        Assert.Equal(5001, restarted.Engine.OwnSeqno);

        restarted.DeliverTo(b, restartedB, bRestarted);
        Assert.Equal(5001, b.RouteTo(o.Address)!.Value.Seqno);
        Assert.Equal(0, b.Engine.SeqnoRequests.Started);
    }

    [Fact]
    public void SelectedRoute_OfferedUnfeasiblyByItsNeighbour_StaysInUse_UntilTheOriginsNewSeqnoArrives()
    {
        // X at seqno 500 via A, advertised on to C: FD (500, 32 + A's cost).
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        router.AddNeighbour(TestAddresses.Random());
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 32)));
        var before = router.RouteTo(x.Address)!.Value;
        Assert.Equal((a, (ushort)500), (before.NextHop, before.Seqno));
        router.Requests.Clear();

        // A's own path to X gets slower by more than the link to A costs: at seqno 500 that is
        // not feasible. The route stays as it was, and A is asked for X's next seqno at once.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 900)));
        var kept = router.RouteTo(x.Address)!.Value;
        Assert.Equal((a, (ushort)500, before.Metric), (kept.NextHop, kept.Seqno, kept.Metric));
        Assert.Equal(1, router.Engine.UnfeasibleIgnored);
        var request = Assert.Single(router.Requests);
        Assert.Equal((a, x.Address, (ushort)501), (request.To, request.Request.Origin, request.Request.Seqno));

        // X answers with seqno 501: feasible at any metric, and taken.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 501, 900)));
        var after = router.RouteTo(x.Address)!.Value;
        Assert.Equal((a, (ushort)501), (after.NextHop, after.Seqno));
        Assert.True(after.Metric > 900, $"metric {after.Metric}");
    }

    [Fact]
    public void SelectedRoute_OfferedUnfeasiblyForever_ExpiresAsIfTheUpdatesWereLost()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        router.AddNeighbour(TestAddresses.Random());
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 32)));
        var worse = SignedUpdates.Payload(SignedUpdates.Route(x, 500, 900));

        // An update every second, none feasible: the route is held for 3.5 of the payloads'
        // 4-s intervals after the last one taken (14 s), then expires; the destination is starved.
        var last = router.Now;
        while (router.RouteTo(x.Address) is not null)
        {
            Assert.True(router.Now - last < TimeSpan.FromSeconds(30), "the route never expired");
            router.Now += TimeSpan.FromSeconds(1);
            router.HelloFromAll();
            router.Receive(a, worse);
            router.Engine.Tick(router.Now);
        }

        Assert.InRange(router.Now - last, TimeSpan.FromSeconds(14), TimeSpan.FromSeconds(16));
        Assert.True(router.Engine.UnfeasibleIgnored >= 13, $"{router.Engine.UnfeasibleIgnored} ignored");
    }

    [Fact]
    public void Starved_ForThreeMinutesAfterTheRetraction_ForgetsTheFeasibilityDistanceAndUsesTheRoute()
    {
        // X at seqno 500 via A, passed on to C: FD 500. Then A goes and C offers X at 400, which
        // is not feasible — as when X restarted far behind and no neighbour of X remembers it.
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var c = router.AddNeighbour(TestAddresses.Random());
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 500, 32)));
        router.Engine.NeighbourDown(a, router.Now);
        var retracted = router.Now;
        var old = SignedUpdates.Payload(SignedUpdates.Route(x, 400, 32));

        TimeSpan? selected = null;
        for (var second = 1; second <= 200 && selected is null; second++)
        {
            router.Now += TimeSpan.FromSeconds(1);
            router.HelloFrom(c);
            if (second % 4 == 0)
            {
                router.Receive(c, old);
            }

            router.Engine.Tick(router.Now);
            if (router.RouteTo(x.Address) is not null)
            {
                selected = router.Now - retracted;
            }
        }

        Assert.NotNull(selected);
        Assert.InRange(selected.Value, TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(5));
        Assert.Equal((c, (ushort)400), (router.RouteTo(x.Address)!.Value.NextHop, router.RouteTo(x.Address)!.Value.Seqno));
    }
}
