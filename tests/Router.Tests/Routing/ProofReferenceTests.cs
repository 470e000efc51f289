using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>
/// Routes by proof reference (type-3 entries): a router sends each neighbour a proof in full once
/// and refers to it afterwards; the receiver uses a reference only with a proof it verified for
/// exactly that origin and seqno, and asks the sender for one it lacks. Through
/// <see cref="SignedRouter"/>: real signatures, the real verifier, the real engine.
/// </summary>
public sealed class ProofReferenceTests : IDisposable
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

    private static readonly TimeSpan UpdateInterval = new RoutingOptions().UpdateInterval;

    [Fact]
    public void Receive_ReferenceToAProofItNeverVerified_InstallsNothingAndAsksTheSender()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());

        router.Receive(a, SignedUpdates.Payload(SignedUpdates.ByReference(SignedUpdates.Route(x, 10, 32))));

        Assert.Null(router.RouteTo(x.Address));
        Assert.Equal(1, router.Verifier.UnknownProofReferences);
        Assert.Equal(0, router.Verifier.Verifications);
        var (to, request) = Assert.Single(router.Requests);
        Assert.Same(a, to);
        Assert.Equal(new SeqnoRequest(x.Address, 10, 1), request);
    }

    [Fact]
    public void Receive_ReferenceWithTheRightOriginAndSeqnoButWrongBytes_InstallsNothing()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());
        var route = SignedUpdates.Route(x, 10, 32);
        router.Receive(a, SignedUpdates.Payload(route));

        // B refers to X's seqno 10 with a better metric, but with reference bytes that name no
        // proof the router verified.
        var forged = SignedUpdates.Payload(SignedUpdates.ByReference(route with { Metric = 0 }));
        forged[UpdateMessage.HeaderSize + 2 + 36] ^= 0x01;
        router.Receive(b, forged);

        Assert.Same(a, router.RouteTo(x.Address)!.Value.NextHop);
        Assert.DoesNotContain($"via {b} ", router.Engine.Describe(x.Address), StringComparison.Ordinal);
        Assert.Equal((1L, 0L), (router.Verifier.UnknownProofReferences, router.Verifier.ProofReferencesResolved));

        // A reference to a seqno the router never verified names nothing either, whatever its bytes.
        router.Receive(b, SignedUpdates.Payload(SignedUpdates.ByReference(SignedUpdates.Route(x, 11, 0))));
        Assert.Equal(10, router.RouteTo(x.Address)!.Value.Seqno);
        Assert.Equal(2, router.Verifier.UnknownProofReferences);

        // The genuine reference from B is used, with the proof verified from A's entry.
        router.Receive(b, SignedUpdates.Payload(SignedUpdates.ByReference(route with { Metric = 0 })));
        Assert.Same(b, router.RouteTo(x.Address)!.Value.NextHop);
        Assert.Equal(1, router.Verifier.ProofReferencesResolved);
        Assert.Equal(1, router.Verifier.Verifications);
    }

    [Fact]
    public void Receive_ReferencesToBothCachedSeqnos_ResolveToTheVerifiedProofObjects()
    {
        using var verifier = new OriginVerifier(8);
        var x = Own(RouterIdentity.Create());
        var route10 = SignedUpdates.Route(x, 10, 32);
        var route11 = SignedUpdates.Route(x, 11, 32);
        var proof10 = SignedUpdates.Read(verifier, SignedUpdates.Payload(route10)).Single().Proof;
        var proof11 = SignedUpdates.Read(verifier, SignedUpdates.Payload(route11)).Single().Proof;

        var read = SignedUpdates.Read(verifier, SignedUpdates.Payload(SignedUpdates.ByReference(route10), SignedUpdates.ByReference(route11)));

        Assert.Same(proof10, read[0].Proof);
        Assert.Same(proof11, read[1].Proof);
        Assert.Equal(2, verifier.Verifications);
        Assert.Equal(2, verifier.ProofReferencesResolved);
    }

    [Fact]
    public void Advertise_ProofGoesInFullOncePerNeighbourAndSeqno_ThenByReference()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());

        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 10, 32)));
        Assert.Equal(UpdateMessage.SignedRouteEntryType, SignedUpdates.EntryTypeFor(router.LastSentTo(b), x.Address));

        // The periodic full update: every route by reference, this router's own included.
        router.Run(UpdateInterval);
        var periodic = router.LastSentTo(b);
        Assert.Equal("3 3", SignedUpdates.EntryTypes(periodic));
        Assert.Equal(2 + (2 * UpdateMessage.ReferenceEntrySize), periodic.Length);

        // A new seqno of X: in full once more, then by reference again.
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 11, 32)));
        Assert.Equal(UpdateMessage.SignedRouteEntryType, SignedUpdates.EntryTypeFor(router.LastSentTo(b), x.Address));
        router.Run(UpdateInterval);
        Assert.Equal(UpdateMessage.ReferenceEntryType, SignedUpdates.EntryTypeFor(router.LastSentTo(b), x.Address));

        // What the router sent B reads back, through a verifier that saw it all, as X's route at 11.
        using var downstream = new OriginVerifier(8);
        var routes = router.Sent.Where(s => s.To == b).SelectMany(s => SignedUpdates.Read(downstream, s.Payload)).ToList();
        Assert.Equal(11, routes.Last(r => r.Origin == x.Address).Seqno);
        Assert.Equal(0, downstream.UnknownProofReferences);
    }

    [Fact]
    public void Advertise_NeighbourRestarted_GetsEveryProofInFullAgain()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 10, 32)));
        router.Run(UpdateInterval);
        Assert.Equal("3 3", SignedUpdates.EntryTypes(router.LastSentTo(b)));

        // B's hello counter starts afresh: it restarted, and its verifier holds nothing of ours.
        router.Engine.OnHello(b, new Hello(40_000, 100, 1, 0, 0), router.Now);

        Assert.Equal("2 2", SignedUpdates.EntryTypes(router.LastSentTo(b)));
    }

    [Fact]
    public void SeqnoRequest_ForTheSeqnoAdvertised_IsAnsweredWithTheProofInFullToTheAskerOnly()
    {
        var router = Own(new SignedRouter());
        var x = Own(RouterIdentity.Create());
        var a = router.AddNeighbour(TestAddresses.Random());
        var b = router.AddNeighbour(TestAddresses.Random());
        var c = router.AddNeighbour(TestAddresses.Random());
        router.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 10, 32)));
        router.Run(UpdateInterval);

        router.Engine.OnSeqnoRequest(b, new SeqnoRequest(x.Address, 10, 1), router.Now);
        router.Engine.OnSeqnoRequest(c, new SeqnoRequest(router.Address, router.Engine.OwnSeqno, 1), router.Now);

        // The answers: X's route to B in full, to C by reference (split horizon: none to A); the
        // router's own route to C in full, to A and B by reference.
        Assert.Equal(UpdateMessage.SignedRouteEntryType, LastEntryType(router, b, x.Address));
        Assert.Equal(UpdateMessage.ReferenceEntryType, LastEntryType(router, c, x.Address));
        Assert.Equal(UpdateMessage.SignedRouteEntryType, LastEntryType(router, c, router.Address));
        Assert.Equal(UpdateMessage.ReferenceEntryType, LastEntryType(router, a, router.Address));
        Assert.Equal(UpdateMessage.ReferenceEntryType, LastEntryType(router, b, router.Address));
        Assert.Equal(100, router.Engine.OwnSeqno); // a request for the current seqno moves nothing
    }

    [Fact]
    public void LostFullProof_IsRepairedByTheNextReferenceWithinOneUpdateInterval()
    {
        // S learns X from A and tells N; the update carrying X's proof in full is lost.
        var (s, n, sn, ns) = Pair();
        var x = Own(RouterIdentity.Create());
        var a = s.AddNeighbour(TestAddresses.Random());
        s.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 10, 32)));
        var lostAt = s.Now;
        s.DeliverTo(n, sn, ns, lose: p => SignedUpdates.EntryTypeFor(p, x.Address) == UpdateMessage.SignedRouteEntryType);
        Assert.Null(n.RouteTo(x.Address));

        // S's next periodic update refers to the proof: N cannot resolve it, installs nothing,
        // and asks S, which answers with the proof in full.
        Step(s, n, UpdateInterval);
        s.DeliverTo(n, sn, ns);
        Assert.Null(n.RouteTo(x.Address));
        Assert.Equal(1, n.Verifier.UnknownProofReferences);
        Assert.Equal(new SeqnoRequest(x.Address, 10, 1), Assert.Single(n.Requests, r => r.Request.Origin == x.Address).Request);
        n.DeliverTo(s, ns, sn);
        s.DeliverTo(n, sn, ns);

        Assert.Equal(10, n.RouteTo(x.Address)!.Value.Seqno);
        Assert.True(n.Now - lostAt <= UpdateInterval, $"repaired {(n.Now - lostAt).TotalSeconds} s after the loss");
    }

    [Fact]
    public void LostFullProofAndLostRequest_AreRepairedByTheReferenceAfter()
    {
        var (s, n, sn, ns) = Pair();
        var x = Own(RouterIdentity.Create());
        var a = s.AddNeighbour(TestAddresses.Random());
        s.Receive(a, SignedUpdates.Payload(SignedUpdates.Route(x, 10, 32)));
        var lostAt = s.Now;
        s.DeliverTo(n, sn, ns, lose: p => SignedUpdates.EntryTypeFor(p, x.Address) == UpdateMessage.SignedRouteEntryType);

        // The first request is lost too.
        Step(s, n, UpdateInterval);
        s.DeliverTo(n, sn, ns);
        n.DeliverTo(s, ns, sn, loseRequests: true);

        // The next reference, an update interval later, asks again.
        Step(s, n, UpdateInterval);
        s.DeliverTo(n, sn, ns);
        Assert.Equal(2, n.Requests.Count(r => r.Request.Origin == x.Address));
        n.DeliverTo(s, ns, sn);
        s.DeliverTo(n, sn, ns);

        Assert.Equal(10, n.RouteTo(x.Address)!.Value.Seqno);
        Assert.Equal(2, n.Verifier.UnknownProofReferences);
        Assert.True(n.Now - lostAt <= 2 * UpdateInterval);
    }

    /// <summary>The type of the entry about <paramref name="origin"/> in the last update to <paramref name="to"/> that has one.</summary>
    private static byte LastEntryType(SignedRouter router, RoutingNeighbour to, RouterAddress origin) =>
        router.Sent.Where(s => s.To == to).Select(s => SignedUpdates.EntryTypeFor(s.Payload, origin)).Last(type => type != 0);

    /// <summary>Two signed routers S and N joined by a link, with their first updates exchanged.</summary>
    private (SignedRouter S, SignedRouter N, RoutingNeighbour NOnS, RoutingNeighbour SOnN) Pair()
    {
        var s = Own(new SignedRouter(initialSeqno: 1000));
        var n = Own(new SignedRouter(initialSeqno: 2000));
        var sn = s.AddNeighbour(n.Address);
        var ns = n.AddNeighbour(s.Address);
        s.DeliverTo(n, sn, ns);
        n.DeliverTo(s, ns, sn);
        Assert.Equal(1000, n.RouteTo(s.Address)!.Value.Seqno);
        return (s, n, sn, ns);
    }

    /// <summary>Moves both routers' clocks on and runs their timers, with a hello each way so the link stays up.</summary>
    private static void Step(SignedRouter s, SignedRouter n, TimeSpan by)
    {
        var to = s.Now + by;
        while (s.Now < to)
        {
            s.Now += TimeSpan.FromSeconds(1);
            n.Now = s.Now;
            s.HelloFromAll();
            n.HelloFromAll();
            s.Engine.Tick(s.Now);
            n.Engine.Tick(n.Now);
        }
    }
}
