using System.Buffers.Binary;
using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>The update format (docs/routing.md, "Messages"): signed route entries, retractions, unknown entries.</summary>
public sealed class UpdateMessageTests : IDisposable
{
    private readonly RouterIdentity _origin = RouterIdentity.Create();
    private readonly OriginVerifier _verifier = new(16);

    public void Dispose()
    {
        _verifier.Dispose();
        _origin.Dispose();
    }

    private static List<(UpdateEntryKind Kind, RouterAddress Origin, ushort Seqno, ushort Metric, string Key, string Signature, string Prefixes)> Entries(byte[] payload)
    {
        Assert.True(UpdateMessage.TryRead(payload, out var interval, out var entries));
        Assert.Equal(SignedUpdates.Interval, interval);
        var read = new List<(UpdateEntryKind, RouterAddress, ushort, ushort, string, string, string)>();
        foreach (var entry in entries)
        {
            read.Add((entry.Kind, entry.Origin, entry.Seqno, entry.Metric, Convert.ToHexString(entry.PublicKey), Convert.ToHexString(entry.Signature), Convert.ToHexString(entry.PrefixBlock)));
        }

        return read;
    }

    [Fact]
    public void Write_SignedRoute_MatchesTheDocumentedLayout()
    {
        var route = SignedUpdates.Route(_origin, 0xBEEF, 0x0123);
        var payload = SignedUpdates.Payload(route);

        Assert.Equal(2 + 194, payload.Length);
        Assert.Equal(UpdateMessage.SignedRouteEntrySize, UpdateMessage.EntrySize(route));
        Assert.Equal(SignedUpdates.Interval, BinaryPrimitives.ReadUInt16BigEndian(payload));
        Assert.Equal(2, payload[2]);
        Assert.Equal(192, payload[3]);
        var value = payload.AsSpan(4);
        Assert.Equal(_origin.Address, RouterAddress.Read(value[..32]));
        Assert.Equal(0xBEEF, BinaryPrimitives.ReadUInt16BigEndian(value[32..]));
        Assert.Equal(0x0123, BinaryPrimitives.ReadUInt16BigEndian(value[34..]));
        Assert.Equal(_origin.PublicKey, value.Slice(36, PublicKeys.SpkiLength).ToArray());
        Assert.Equal(route.Proof!.Signature, value.Slice(127, PublicKeys.SignatureLength).ToArray());
        Assert.Equal(0, value[191]);
    }

    [Fact]
    public void Write_RouteByReference_MatchesTheDocumentedLayout()
    {
        var route = SignedUpdates.Route(_origin, 0xBEEF, 0x0123);
        var payload = SignedUpdates.Payload(SignedUpdates.ByReference(route));

        Assert.Equal(2 + 46, payload.Length);
        Assert.Equal(UpdateMessage.ReferenceEntrySize, UpdateMessage.EntrySize(SignedUpdates.ByReference(route)));
        Assert.Equal(3, payload[2]);
        Assert.Equal(44, payload[3]);
        var value = payload.AsSpan(4);
        Assert.Equal(_origin.Address, RouterAddress.Read(value[..32]));
        Assert.Equal(0xBEEF, BinaryPrimitives.ReadUInt16BigEndian(value[32..]));
        Assert.Equal(0x0123, BinaryPrimitives.ReadUInt16BigEndian(value[34..]));
        Assert.Equal(route.Proof!.Signature.AsSpan(0, 8).ToArray(), value[36..].ToArray());

        var entry = Assert.Single(Entries(payload));
        Assert.Equal((UpdateEntryKind.Reference, _origin.Address, (ushort)0xBEEF, (ushort)0x0123, "", "", ""), entry);
    }

    [Fact]
    public void TryRead_ReferenceWithAnInfiniteMetric_IsARetraction()
    {
        var payload = SignedUpdates.Payload(SignedUpdates.ByReference(SignedUpdates.Route(_origin, 4, 10)));
        payload[UpdateMessage.HeaderSize + 2 + 34] = 0xFF;
        payload[UpdateMessage.HeaderSize + 2 + 35] = 0xFF;

        Assert.Equal(UpdateEntryKind.Retraction, Assert.Single(Entries(payload)).Kind);
    }

    [Fact]
    public void TryRead_SignedRoutesAndRetractions_RoundTrip()
    {
        var other = RouterAddress.Read(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var routes = new[]
        {
            SignedUpdates.Route(_origin, 7, 0),
            new RouteAdvert(other, 9, Metric.Infinity),
            SignedUpdates.Route(_origin, 8, 500),
        };
        var payload = SignedUpdates.Payload(routes);
        Assert.Equal(2 + 194 + 38 + 194, payload.Length);

        var entries = Entries(payload);
        Assert.Equal(3, entries.Count);
        Assert.Equal((UpdateEntryKind.Signed, _origin.Address, (ushort)7, (ushort)0), (entries[0].Kind, entries[0].Origin, entries[0].Seqno, entries[0].Metric));
        Assert.Equal(Convert.ToHexString(_origin.PublicKey), entries[0].Key);
        Assert.Equal(Convert.ToHexString(routes[0].Proof!.Signature), entries[0].Signature);
        Assert.Equal("00", entries[0].Prefixes);
        Assert.Equal((UpdateEntryKind.Retraction, other, (ushort)9, Metric.Infinity, "", "", ""), entries[1]);
        Assert.Equal((UpdateEntryKind.Signed, (ushort)8, (ushort)500), (entries[2].Kind, entries[2].Seqno, entries[2].Metric));

        // Through the verifier, as the router reads it: the same routes, each with a proof that
        // writes back to the same bytes.
        var verified = SignedUpdates.Read(_verifier, payload);
        Assert.Equal(routes.Select(r => (r.Origin, r.Seqno, r.Metric)), verified.Select(r => (r.Origin, r.Seqno, r.Metric)));
        Assert.Null(verified[1].Proof);
        Assert.Equal(payload, SignedUpdates.Payload([.. verified]));
    }

    [Fact]
    public void TryRead_PrefixBlockItDoesNotUnderstand_IsKeptWholeAndCoveredByTheSignature()
    {
        // A later router announcing prefixes: today's routers cannot read them, but verify and
        // pass them on unchanged.
        byte[] prefixes = [2, 0xAA, 0xBB, 0xCC, 0xDD];
        var statement = new byte[OriginProof.StatementLength(prefixes.Length)];
        OriginProof.WriteStatement(statement, _origin.Address, 3, prefixes);
        var signature = _origin.Key.SignData(statement, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var payload = SignedUpdates.Payload(new RouteAdvert(_origin.Address, 3, 40, new OriginProof(3, _origin.PublicKey, signature, prefixes)));
        Assert.Equal(192 + 4, payload[3]);

        var verified = Assert.Single(SignedUpdates.Read(_verifier, payload));
        Assert.Equal(prefixes, verified.Proof!.PrefixBlock);
        Assert.Equal(payload, SignedUpdates.Payload(verified));

        // The same entry with the prefixes changed no longer verifies.
        payload[^1] ^= 1;
        Assert.Empty(SignedUpdates.Read(_verifier, payload));
        Assert.Equal(1, _verifier.BadOriginSignatures);
    }

    [Fact]
    public void TryRead_UnknownEntryTypes_AreSkipped()
    {
        var known = SignedUpdates.Payload(SignedUpdates.Route(_origin, 1, 10));
        byte[] payload = [.. known[..2], 200, 3, 1, 2, 3, 0, 0, .. known[2..], 77, 255, .. new byte[255]];

        var entries = Entries(payload);
        Assert.Equal(UpdateEntryKind.Signed, Assert.Single(entries).Kind);
    }

    [Theory]
    [InlineData(1, 35)]
    [InlineData(1, 37)]
    [InlineData(2, 36)]
    [InlineData(2, 191)]
    [InlineData(3, 43)]
    [InlineData(3, 45)]
    [InlineData(3, 192)]
    public void TryRead_KnownEntryWithTheWrongLength_IsMalformed(byte type, int length)
    {
        var payload = new byte[2 + 2 + length];
        payload[1] = 100;
        payload[2] = type;
        payload[3] = (byte)length;

        Assert.False(UpdateMessage.TryRead(payload, out _, out _));
        Assert.False(_verifier.TryReadUpdate(payload, [], out _));
    }

    [Fact]
    public void TryRead_EntryRunningPastTheEnd_IsMalformed()
    {
        var payload = SignedUpdates.Payload(SignedUpdates.Route(_origin, 1, 10));
        Assert.False(UpdateMessage.TryRead(payload.AsSpan(0, payload.Length - 1), out _, out _));
    }

    [Fact]
    public void TryRead_TypeOneEntryWithAFiniteMetric_IsAnUnsignedRoute()
    {
        var entries = Entries(SignedUpdates.UnsignedPayload(_origin.Address, 5, 100));
        Assert.Equal((UpdateEntryKind.Unsigned, (ushort)100), (Assert.Single(entries).Kind, entries[0].Metric));
    }

    [Fact]
    public void Write_RouteWithoutProof_Throws()
    {
        var payload = new byte[UpdateMessage.Size([new RouteAdvert(_origin.Address, 1, 10)])];
        Assert.Throws<ArgumentException>(() => UpdateMessage.Write(payload, 100, [new RouteAdvert(_origin.Address, 1, 10)]));
    }

    [Fact]
    public void Write_ProofOfAnotherSeqno_Throws()
    {
        var route = SignedUpdates.Route(_origin, 1, 10) with { Seqno = 2 };
        var payload = new byte[UpdateMessage.Size([route])];
        Assert.Throws<ArgumentException>(() => UpdateMessage.Write(payload, 100, [route]));
    }

    [Fact]
    public void Size_RouteWithoutProof_CountsAsTheRouterWouldSendIt()
    {
        // What the simulator counts for its proof-less routes.
        RouteAdvert[] routes = [new(_origin.Address, 1, 10), new(_origin.Address, 1, Metric.Infinity), new(_origin.Address, 1, 10, null, ProofByReference: true)];
        Assert.Equal(2 + 194 + 38 + 46, UpdateMessage.Size(routes));
    }

    [Fact]
    public void Write_RouteByReferenceWithoutProof_Throws()
    {
        RouteAdvert[] routes = [new(_origin.Address, 1, 10, null, ProofByReference: true)];
        Assert.Throws<ArgumentException>(() => UpdateMessage.Write(new byte[UpdateMessage.Size(routes)], 100, routes));
    }
}
