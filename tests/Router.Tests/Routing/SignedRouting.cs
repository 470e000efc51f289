using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>
/// One router's routing core wired the way <see cref="RoutingService"/> wires it, without the
/// actor task and the netmods: a received update payload goes through
/// <see cref="OriginVerifier.TryReadUpdate"/> and then <see cref="RoutingEngine.OnUpdate"/>
/// (as <c>RoutingService.Handle</c> does), the engine signs its own route with an
/// <see cref="OriginSigner"/> for its identity, and every update it sends is written with
/// <see cref="UpdateMessage.Write"/> (as <c>RoutingService.SendUpdate</c> does) and kept, as is
/// every seqno request; routes by proof reference it cannot resolve make it ask, as the service does.
/// </summary>
internal sealed class SignedRouter : IRoutingOutput, IDisposable
{
    private readonly List<RouteAdvert> _adverts = [];
    private readonly List<MissingProof> _missing = [];
    private readonly Dictionary<RoutingNeighbour, ushort> _helloSeqnos = [];
    private readonly Dictionary<RoutingNeighbour, (int Updates, int Requests)> _delivered = [];
    private readonly bool _ownsIdentity;

    /// <param name="identity">Given: a router restarting with the same key (the caller disposes it). Null: a new one, disposed with the router.</param>
    public SignedRouter(RoutingOptions? options = null, ushort initialSeqno = 100, RouterIdentity? identity = null)
    {
        _ownsIdentity = identity is null;
        Identity = identity ?? RouterIdentity.Create();
        Signer = new OriginSigner(Identity);
        Verifier = new OriginVerifier((options ?? new RoutingOptions()).MaxRoutes + 1);
        Engine = new RoutingEngine(Identity.Address, options ?? new RoutingOptions(), this, Now, initialSeqno, Signer);
    }

    public RouterIdentity Identity { get; }

    public RouterAddress Address => Identity.Address;

    public OriginSigner Signer { get; }

    public OriginVerifier Verifier { get; }

    public RoutingEngine Engine { get; }

    public TimeSpan Now { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Every update payload sent, in order, with the neighbour it went to.</summary>
    public List<(RoutingNeighbour To, byte[] Payload)> Sent { get; } = [];

    /// <summary>Every seqno request sent, in order, with the neighbour it went to.</summary>
    public List<(RoutingNeighbour To, SeqnoRequest Request)> Requests { get; } = [];

    /// <summary>A neighbour that is up and has sent one hello, so its link has a finite cost.</summary>
    public RoutingNeighbour AddNeighbour(RouterAddress address)
    {
        var neighbour = new RoutingNeighbour(address, address);
        Engine.NeighbourUp(neighbour, Now);
        HelloFrom(neighbour);
        return neighbour;
    }

    /// <summary>The next hello from <paramref name="neighbour"/> arrives (one counter per neighbour, as each sends its own).</summary>
    public void HelloFrom(RoutingNeighbour neighbour)
    {
        _helloSeqnos.TryGetValue(neighbour, out var seqno);
        _helloSeqnos[neighbour] = (ushort)(seqno + 1);
        Engine.OnHello(neighbour, new Hello(seqno, 100, 1, 0, 0), Now);
    }

    /// <summary>Moves the clock on by whole seconds, with a hello from every neighbour each second (so links stay up) and the timers run.</summary>
    public void Run(TimeSpan duration)
    {
        var until = Now + duration;
        while (Now < until)
        {
            Now += TimeSpan.FromSeconds(1);
            HelloFromAll();
            Engine.Tick(Now);
        }
    }

    /// <summary>A hello from every neighbour, so that the links stay up while the clock moves on.</summary>
    public void HelloFromAll()
    {
        foreach (var neighbour in Engine.Neighbours.ToList())
        {
            HelloFrom(neighbour);
        }
    }

    /// <summary>An update payload arrives from <paramref name="from"/>: verified, then given to the engine; unresolved references are asked for.</summary>
    public bool Receive(RoutingNeighbour from, byte[] payload)
    {
        if (!Verifier.TryReadUpdate(payload, _adverts, _missing, out var interval))
        {
            return false;
        }

        Engine.OnUpdate(from, interval, _adverts, Now);
        if (_missing.Count > 0)
        {
            Engine.RequestProofs(from, _missing, Now);
        }

        return true;
    }

    /// <summary>
    /// Hands <paramref name="to"/> everything this router sent its neighbour <paramref name="toOnThisSide"/>
    /// since the last call (its updates in order, then its seqno requests), as arriving from
    /// <paramref name="fromOnTheirSide"/>; <paramref name="lose"/> drops the update payloads it returns
    /// true for, <paramref name="loseRequests"/> every seqno request.
    /// </summary>
    public void DeliverTo(SignedRouter to, RoutingNeighbour toOnThisSide, RoutingNeighbour fromOnTheirSide, Func<byte[], bool>? lose = null, bool loseRequests = false)
    {
        _delivered.TryGetValue(toOnThisSide, out var done);
        var updates = Sent.Where(s => s.To == toOnThisSide).Skip(done.Updates).Select(s => s.Payload).ToList();
        var requests = Requests.Where(r => r.To == toOnThisSide).Skip(done.Requests).Select(r => r.Request).ToList();
        _delivered[toOnThisSide] = (done.Updates + updates.Count, done.Requests + requests.Count);
        foreach (var payload in updates.Where(p => lose?.Invoke(p) != true))
        {
            Assert.True(to.Receive(fromOnTheirSide, payload));
        }

        foreach (var request in loseRequests ? [] : requests)
        {
            to.Engine.OnSeqnoRequest(fromOnTheirSide, request, to.Now);
        }
    }

    public SelectedRoute? RouteTo(RouterAddress destination) =>
        Engine.SelectedRoutes().Where(r => r.Destination == destination).Select(r => (SelectedRoute?)r).FirstOrDefault();

    /// <summary>The last update payload sent to <paramref name="to"/>.</summary>
    public byte[] LastSentTo(RoutingNeighbour to) => Sent.Last(s => s.To == to).Payload;

    void IRoutingOutput.SendHello(RoutingNeighbour to, in Hello hello)
    {
    }

    void IRoutingOutput.SendUpdate(RoutingNeighbour to, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        var payload = new byte[UpdateMessage.Size(routes)];
        Assert.Equal(payload.Length, UpdateMessage.Write(payload, intervalCentiseconds, routes));
        Sent.Add((to, payload));
    }

    void IRoutingOutput.SendSeqnoRequest(RoutingNeighbour to, in SeqnoRequest request) => Requests.Add((to, request));

    void IRoutingOutput.RoutesChanged()
    {
    }

    public void Dispose()
    {
        Verifier.Dispose();
        if (_ownsIdentity)
        {
            Identity.Dispose();
        }
    }
}

/// <summary>Signed route entries as an origin (or a forger) makes them, and updates carrying them.</summary>
internal static class SignedUpdates
{
    public const ushort Interval = 400;

    /// <summary>The signature <paramref name="key"/> makes over <paramref name="origin"/>'s statement for <paramref name="seqno"/>.</summary>
    public static byte[] SignStatement(ECDsa key, RouterAddress origin, ushort seqno)
    {
        var statement = new byte[OriginProof.StatementLength(1)];
        OriginProof.WriteStatement(statement, origin, seqno, OriginProof.NoPrefixes);
        return key.SignData(statement, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>A validly signed route to <paramref name="origin"/> at <paramref name="seqno"/>.</summary>
    public static RouteAdvert Route(RouterIdentity origin, ushort seqno, ushort metric) =>
        new(origin.Address, seqno, metric, new OriginProof(seqno, origin.PublicKey, SignStatement(origin.Key, origin.Address, seqno)));

    /// <summary>The same route, sent by proof reference (a type-3 entry).</summary>
    public static RouteAdvert ByReference(RouteAdvert route) => route with { ProofByReference = true };

    /// <summary>Kinds of the entries of an update payload, in order, e.g. "2 3 1".</summary>
    public static string EntryTypes(byte[] payload)
    {
        var types = new List<byte>();
        for (var position = UpdateMessage.HeaderSize; position < payload.Length; position += 2 + payload[position + 1])
        {
            types.Add(payload[position]);
        }

        return string.Join(' ', types);
    }

    /// <summary>The type of the entry about <paramref name="origin"/> in an update payload, or 0 if there is none.</summary>
    public static byte EntryTypeFor(byte[] payload, RouterAddress origin)
    {
        for (var position = UpdateMessage.HeaderSize; position < payload.Length; position += 2 + payload[position + 1])
        {
            if (RouterAddress.Read(payload.AsSpan(position + 2, RouterAddress.Length)) == origin)
            {
                return payload[position];
            }
        }

        return 0;
    }

    /// <summary>A route entry with whatever key and signature the caller gives.</summary>
    public static RouteAdvert Route(RouterAddress origin, ushort seqno, ushort metric, byte[] publicKey, byte[] signature) =>
        new(origin, seqno, metric, new OriginProof(seqno, publicKey, signature));

    public static byte[] Payload(params RouteAdvert[] routes)
    {
        var payload = new byte[UpdateMessage.Size(routes)];
        UpdateMessage.Write(payload, Interval, routes);
        return payload;
    }

    /// <summary>A type-1 entry with a finite metric: what an update without signatures looked like.</summary>
    public static byte[] UnsignedPayload(RouterAddress origin, ushort seqno, ushort metric)
    {
        var payload = Payload(new RouteAdvert(origin, seqno, Metric.Infinity));
        payload[UpdateMessage.HeaderSize + 2 + 34] = (byte)(metric >> 8);
        payload[UpdateMessage.HeaderSize + 2 + 35] = (byte)metric;
        return payload;
    }

    /// <summary>What <see cref="OriginVerifier.TryReadUpdate"/> makes of <paramref name="payload"/>.</summary>
    public static List<RouteAdvert> Read(OriginVerifier verifier, byte[] payload)
    {
        var routes = new List<RouteAdvert>();
        Assert.True(verifier.TryReadUpdate(payload, routes, out var interval), "the update is malformed");
        Assert.Equal(Interval, interval);
        return routes;
    }

    public static ReadOnlySpan<RouteAdvert> AsSpan(List<RouteAdvert> routes) => CollectionsMarshal.AsSpan(routes);
}
