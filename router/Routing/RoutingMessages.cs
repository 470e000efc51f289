using System.Buffers.Binary;
using Router.Identity;
using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// A hello: sent to each neighbour every hello interval. Its sequence number lets the
/// receiver count lost hellos; the echoed timestamp and delay let the receiver measure the
/// round-trip time without synchronised clocks (as in Babel's RTT extension).
/// <code>
/// 0 u16 seqno   2 u16 interval (centiseconds)   4 u32 timestamp (µs, sender's clock)
/// 8 u32 echo: the last timestamp received from this neighbour (0: none yet)
/// 12 u32 echo delay: µs between receiving that hello and sending this one
/// </code>
/// </summary>
internal readonly record struct Hello(ushort Seqno, ushort IntervalCentiseconds, uint Timestamp, uint EchoTimestamp, uint EchoDelay)
{
    public const int Size = 16;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, Seqno);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], IntervalCentiseconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], Timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], EchoTimestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], EchoDelay);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out Hello hello)
    {
        hello = default;
        if (payload.Length < Size)
        {
            return false;
        }

        hello = new Hello(
            BinaryPrimitives.ReadUInt16BigEndian(payload),
            BinaryPrimitives.ReadUInt16BigEndian(payload[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(payload[12..]));
        return hello.IntervalCentiseconds != 0;
    }
}

/// <summary>
/// One route in an update: the origin router, its sequence number, the sender's metric to it,
/// and the origin's proof of (origin, seqno). A retraction (<see cref="Metric.Infinity"/>)
/// needs no proof; any other route sent by a router must carry one. In simulations the proof
/// is null: the engine never looks inside it. <see cref="ProofByReference"/>: the engine already
/// sent this proof in full to the neighbour the advert goes to, so it is written as a
/// reference (a type-3 entry) instead of the whole proof.
/// </summary>
internal readonly record struct RouteAdvert(RouterAddress Origin, ushort Seqno, ushort Metric, OriginProof? Proof = null, bool ProofByReference = false);

/// <summary>A route entry whose proof reference the receiver could not resolve: the (origin, seqno) to ask the sender about.</summary>
internal readonly record struct MissingProof(RouterAddress Origin, ushort Seqno);

/// <summary>
/// An update: routes the sender offers, as type-length-value entries after a small header,
/// so later versions can add entry types that older routers skip.
/// <code>
/// 0 u16 update interval (centiseconds): the receiver expires these routes after 3.5 of them
/// 2 entries: u8 type, u8 length, value
///   type 1 (retraction), length 36: [32] origin, u16 seqno, u16 metric = 0xFFFF
///     (a type-1 entry with any other metric is an unsigned route: rejected by the receiver)
///   type 2 (signed route), length 192 + prefix bytes:
///     0 [32] origin   32 u16 seqno   34 u16 metric   36 [91] origin public key (SPKI)
///     127 [64] signature (P1363) over the origin statement (<see cref="OriginProof.WriteStatement"/>)
///     191 prefix block: u8 prefix count (0 until issue 5), then the prefixes (none today)
///   type 3 (route by proof reference), length 44:
///     0 [32] origin   32 u16 seqno   34 u16 metric
///     36 [8] proof reference: the first 8 bytes of the signature of a type-2 entry for the same
///        origin and seqno that the sender sent this receiver before (<see cref="OriginProof.Reference"/>)
/// </code>
/// </summary>
internal static class UpdateMessage
{
    public const int HeaderSize = 2;

    public const byte RetractionEntryType = 1;
    public const int RetractionEntryLength = 36;
    public const int RetractionEntrySize = 2 + RetractionEntryLength;

    public const byte SignedRouteEntryType = 2;

    /// <summary>A signed route entry's value up to the prefix block: origin, seqno, metric, key, signature.</summary>
    public const int SignedRouteFixedLength = 36 + PublicKeys.SpkiLength + PublicKeys.SignatureLength;

    /// <summary>A signed route entry announcing no prefixes, type and length bytes included.</summary>
    public const int SignedRouteEntrySize = 2 + SignedRouteFixedLength + 1;

    public const byte ReferenceEntryType = 3;
    public const int ReferenceEntryLength = 36 + OriginProof.ReferenceLength;

    /// <summary>A route by proof reference, type and length bytes included.</summary>
    public const int ReferenceEntrySize = 2 + ReferenceEntryLength;

    private const int KeyOffset = 36;
    private const int SignatureOffset = KeyOffset + PublicKeys.SpkiLength;

    /// <summary>
    /// Bytes <paramref name="route"/> takes in an update. A route without a proof (simulations)
    /// is counted as the router would send it: by reference, or as a signed route without prefixes.
    /// </summary>
    public static int EntrySize(in RouteAdvert route) => route.Metric == Metric.Infinity
        ? RetractionEntrySize
        : route.ProofByReference ? ReferenceEntrySize : 2 + SignedRouteFixedLength + (route.Proof?.PrefixBlock.Length ?? 1);

    public static int Size(ReadOnlySpan<RouteAdvert> routes)
    {
        var size = HeaderSize;
        foreach (var route in routes)
        {
            size += EntrySize(route);
        }

        return size;
    }

    /// <summary>
    /// Writes an update of <see cref="Size"/> bytes. Every route but a retraction must carry a
    /// proof: the router never sends an unsigned route. A route marked
    /// <see cref="RouteAdvert.ProofByReference"/> is written as a type-3 entry with the proof's
    /// reference, any other as a type-2 entry with the whole proof.
    /// </summary>
    public static int Write(Span<byte> destination, ushort intervalCentiseconds, ReadOnlySpan<RouteAdvert> routes)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, intervalCentiseconds);
        var position = HeaderSize;
        foreach (var route in routes)
        {
            var value = destination[(position + 2)..];
            route.Origin.Write(value[..RouterAddress.Length]);
            BinaryPrimitives.WriteUInt16BigEndian(value[32..], route.Seqno);
            BinaryPrimitives.WriteUInt16BigEndian(value[34..], route.Metric);
            if (route.Metric == Metric.Infinity)
            {
                destination[position] = RetractionEntryType;
                destination[position + 1] = RetractionEntryLength;
                position += RetractionEntrySize;
                continue;
            }

            var proof = route.Proof ?? throw new ArgumentException($"the route to {route.Origin} has no origin proof", nameof(routes));
            if (proof.Seqno != route.Seqno)
            {
                throw new ArgumentException($"the route to {route.Origin} has seqno {route.Seqno} but a proof of seqno {proof.Seqno}", nameof(routes));
            }

            if (route.ProofByReference)
            {
                destination[position] = ReferenceEntryType;
                destination[position + 1] = ReferenceEntryLength;
                proof.Reference.CopyTo(value[36..]);
                position += ReferenceEntrySize;
                continue;
            }

            var length = SignedRouteFixedLength + proof.PrefixBlock.Length;
            destination[position] = SignedRouteEntryType;
            destination[position + 1] = (byte)length;
            proof.PublicKey.CopyTo(value[KeyOffset..]);
            proof.Signature.CopyTo(value[SignatureOffset..]);
            proof.PrefixBlock.CopyTo(value[SignedRouteFixedLength..]);
            position += 2 + length;
        }

        return position;
    }

    /// <summary>
    /// Checks the framing of a whole update: false when it is malformed (an entry runs past
    /// the end, a retraction, signed route or reference entry has the wrong length, or the
    /// interval is zero); then nothing from it should be used. Otherwise <paramref name="entries"/>
    /// enumerates its route entries in order, skipping entry types it does not know, without
    /// copying or verifying anything.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out ushort intervalCentiseconds, out UpdateEntries entries)
    {
        entries = default;
        intervalCentiseconds = 0;
        if (payload.Length < HeaderSize)
        {
            return false;
        }

        intervalCentiseconds = BinaryPrimitives.ReadUInt16BigEndian(payload);
        var position = HeaderSize;
        while (position < payload.Length)
        {
            if (position + 2 > payload.Length)
            {
                return false;
            }

            var type = payload[position];
            int length = payload[position + 1];
            if (position + 2 + length > payload.Length)
            {
                return false;
            }

            if ((type == RetractionEntryType && length != RetractionEntryLength) || (type == SignedRouteEntryType && length <= SignedRouteFixedLength)
                || (type == ReferenceEntryType && length != ReferenceEntryLength))
            {
                return false;
            }

            position += 2 + length;
        }

        entries = new UpdateEntries(payload[HeaderSize..]);
        return intervalCentiseconds != 0;
    }

    /// <summary>Reads one entry's value; <paramref name="type"/> is a retraction, signed route or reference type.</summary>
    internal static UpdateEntry ReadEntry(byte type, ReadOnlySpan<byte> value)
    {
        var origin = RouterAddress.Read(value[..RouterAddress.Length]);
        var seqno = BinaryPrimitives.ReadUInt16BigEndian(value[32..]);
        var metric = BinaryPrimitives.ReadUInt16BigEndian(value[34..]);
        if (metric == Metric.Infinity)
        {
            // A retraction needs no proof; one sent as a signed route or by reference is still just a retraction.
            return new UpdateEntry(UpdateEntryKind.Retraction, origin, seqno, metric, default, default, default, default);
        }

        return type switch
        {
            RetractionEntryType => new UpdateEntry(UpdateEntryKind.Unsigned, origin, seqno, metric, default, default, default, default),
            ReferenceEntryType => new UpdateEntry(UpdateEntryKind.Reference, origin, seqno, metric, default, default, default, value.Slice(36, OriginProof.ReferenceLength)),
            _ => new UpdateEntry(
                UpdateEntryKind.Signed,
                origin,
                seqno,
                metric,
                value.Slice(KeyOffset, PublicKeys.SpkiLength),
                value.Slice(SignatureOffset, PublicKeys.SignatureLength),
                value[SignedRouteFixedLength..],
                default),
        };
    }
}

/// <summary>What a route entry in an update is, before verification.</summary>
internal enum UpdateEntryKind
{
    /// <summary>Metric infinity: the sender withdraws its route. Needs no proof.</summary>
    Retraction,

    /// <summary>A route with an origin proof still to be verified.</summary>
    Signed,

    /// <summary>A route (finite metric) in a type-1 entry, which carries no proof: never used.</summary>
    Unsigned,

    /// <summary>A route whose proof is a reference to one the sender sent in full before (type 3): usable only if the receiver verified that proof.</summary>
    Reference,
}

/// <summary>
/// One route entry of an update, read in place: the spans point into the received payload and
/// are valid only while it is. <see cref="PublicKey"/>, <see cref="Signature"/> and
/// <see cref="PrefixBlock"/> are empty unless <see cref="Kind"/> is <see cref="UpdateEntryKind.Signed"/>;
/// <see cref="ProofReference"/> is empty unless it is <see cref="UpdateEntryKind.Reference"/>.
/// </summary>
internal readonly ref struct UpdateEntry(UpdateEntryKind kind, RouterAddress origin, ushort seqno, ushort metric, ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> prefixBlock, ReadOnlySpan<byte> proofReference)
{
    public UpdateEntryKind Kind { get; } = kind;

    public RouterAddress Origin { get; } = origin;

    public ushort Seqno { get; } = seqno;

    public ushort Metric { get; } = metric;

    public ReadOnlySpan<byte> PublicKey { get; } = publicKey;

    public ReadOnlySpan<byte> Signature { get; } = signature;

    public ReadOnlySpan<byte> PrefixBlock { get; } = prefixBlock;

    public ReadOnlySpan<byte> ProofReference { get; } = proofReference;
}

/// <summary>
/// The route entries of an update whose framing <see cref="UpdateMessage.TryRead"/> checked,
/// in order; entries of unknown types are skipped. Allocates nothing.
/// </summary>
internal ref struct UpdateEntries(ReadOnlySpan<byte> entries)
{
    private readonly ReadOnlySpan<byte> _entries = entries;
    private int _next;
    private UpdateEntry _current;

    public readonly UpdateEntry Current => _current;

    public readonly UpdateEntries GetEnumerator() => this;

    public bool MoveNext()
    {
        while (_next < _entries.Length)
        {
            var type = _entries[_next];
            var value = _entries.Slice(_next + 2, _entries[_next + 1]);
            _next += 2 + value.Length;
            if (type is UpdateMessage.RetractionEntryType or UpdateMessage.SignedRouteEntryType or UpdateMessage.ReferenceEntryType)
            {
                _current = UpdateMessage.ReadEntry(type, value);
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// A seqno request: asks the origin for a route with at least this sequence number, so a
/// router left with only unfeasible routes can get a feasible one quickly. Forwarded
/// towards the origin along selected routes, at most <see cref="HopCount"/> hops. A router
/// that received a proof reference it cannot resolve sends one with hop count 1 to that
/// neighbour for the referenced seqno; the answer carries the proof in full.
/// Unsigned: the origin moves its seqno by at most 1 per request (RFC 8966 §3.8.1.2).
/// <code>0 [32] origin   32 u16 seqno   34 u8 hop count</code>
/// </summary>
internal readonly record struct SeqnoRequest(RouterAddress Origin, ushort Seqno, byte HopCount)
{
    public const int Size = 35;

    public void Write(Span<byte> destination)
    {
        Origin.Write(destination[..RouterAddress.Length]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[32..], Seqno);
        destination[34] = HopCount;
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out SeqnoRequest request)
    {
        request = default;
        if (payload.Length < Size)
        {
            return false;
        }

        request = new SeqnoRequest(RouterAddress.Read(payload[..RouterAddress.Length]), BinaryPrimitives.ReadUInt16BigEndian(payload[32..]), payload[34]);
        return true;
    }
}
