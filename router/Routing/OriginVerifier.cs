using System.Security.Cryptography;
using Router.Identity;
using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// Checks the origin proof of every route entry in a received update before the engine sees
/// it, so a router cannot announce an address whose key it does not hold, nor a sequence
/// number the origin did not sign.
/// <list type="bullet">
/// <item>The public key must hash to the origin address (SHA-256 of the SPKI) and parse as P-256.</item>
/// <item>The signature must verify over the origin statement (<see cref="OriginProof.WriteStatement"/>).</item>
/// <item>A route by proof reference (type 3) is used only with a proof verified here before for
///   exactly its origin and seqno whose <see cref="OriginProof.Reference"/> matches; otherwise it
///   is dropped and reported as a <see cref="MissingProof"/>, for the caller to ask the sender.</item>
/// </list>
/// Verified origins are cached by address (at most <c>capacity</c>; an arbitrary one is evicted
/// when full) as bytes only: the public key and the last two verified proofs (seqno, signature,
/// prefix block) — a few hundred bytes of managed memory, measured in docs/routing.md. No
/// imported key is kept: a key is imported when a signature has to be checked (a new origin, or
/// a new seqno or signature of a known one) and disposed right after. The same entry arriving
/// again — from every neighbour, in every periodic update — costs a comparison of its key and
/// signature bytes with the cache, no hashing and no signature check, and hands out the cached
/// proof object; the second slot keeps a seqno change (neighbours briefly offering the old and
/// the new seqno) from re-verifying on every update. Rejected entries are counted by reason and
/// never cached. Used by one thread (the routing actor); the counters may be read from any thread.
/// </summary>
internal sealed class OriginVerifier : IDisposable
{
    private readonly Dictionary<RouterAddress, KnownOrigin> _known = [];
    private readonly int _capacity;
    private byte[] _statement = new byte[OriginProof.StatementLength(1)];
    private long _unsigned;
    private long _badKey;
    private long _badSignature;
    private long _verifications;
    private long _cacheHits;
    private long _referencesResolved;
    private long _unknownReferences;

    public OriginVerifier(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Route entries without a proof (a finite metric in a type-1 entry).</summary>
    public long UnsignedRoutes => Interlocked.Read(ref _unsigned);

    /// <summary>Route entries whose public key does not hash to the origin address or does not parse as P-256.</summary>
    public long BadOriginKeys => Interlocked.Read(ref _badKey);

    /// <summary>Route entries whose signature does not verify (another key, another seqno, altered bytes).</summary>
    public long BadOriginSignatures => Interlocked.Read(ref _badSignature);

    /// <summary>Signatures checked (cache misses that got as far as the signature).</summary>
    public long Verifications => Interlocked.Read(ref _verifications);

    /// <summary>Signed route entries (type 2) accepted from the cache without a signature check.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);

    /// <summary>Routes by proof reference (type 3) accepted: the reference named a proof in the cache.</summary>
    public long ProofReferencesResolved => Interlocked.Read(ref _referencesResolved);

    /// <summary>Routes by proof reference dropped because the cache holds no matching proof: <c>unknownProofReference</c>.</summary>
    public long UnknownProofReferences => Interlocked.Read(ref _unknownReferences);

    /// <summary>Origins in the cache.</summary>
    public int CachedOrigins => _known.Count;

    /// <summary>
    /// Reads an update into <paramref name="routes"/>: retractions as they are, routes only when
    /// their origin proof verifies (with the proof attached, for the engine to pass on). Entries
    /// that fail are left out and counted; the rest of the update is still used. False when the
    /// update is malformed (<see cref="UpdateMessage.TryRead"/>); then <paramref name="routes"/> is empty.
    /// </summary>
    public bool TryReadUpdate(ReadOnlySpan<byte> payload, List<RouteAdvert> routes, out ushort intervalCentiseconds) =>
        TryReadUpdate(payload, routes, null, out intervalCentiseconds);

    /// <summary>
    /// As <see cref="TryReadUpdate(ReadOnlySpan{byte}, List{RouteAdvert}, out ushort)"/>, and lists in
    /// <paramref name="missing"/> (cleared first) the routes by proof reference that were dropped
    /// because the cache holds no matching proof, so the caller can ask the sender for them in full.
    /// </summary>
    public bool TryReadUpdate(ReadOnlySpan<byte> payload, List<RouteAdvert> routes, List<MissingProof>? missing, out ushort intervalCentiseconds)
    {
        routes.Clear();
        missing?.Clear();
        if (!UpdateMessage.TryRead(payload, out intervalCentiseconds, out var entries))
        {
            return false;
        }

        foreach (var entry in entries)
        {
            switch (entry.Kind)
            {
                case UpdateEntryKind.Retraction:
                    routes.Add(new RouteAdvert(entry.Origin, entry.Seqno, entry.Metric));
                    break;
                case UpdateEntryKind.Unsigned:
                    Interlocked.Increment(ref _unsigned);
                    break;
                case UpdateEntryKind.Reference:
                    if (Resolve(entry) is { } referenced)
                    {
                        routes.Add(new RouteAdvert(entry.Origin, entry.Seqno, entry.Metric, referenced));
                    }
                    else
                    {
                        missing?.Add(new MissingProof(entry.Origin, entry.Seqno));
                    }

                    break;
                default:
                    if (Verify(entry) is { } proof)
                    {
                        routes.Add(new RouteAdvert(entry.Origin, entry.Seqno, entry.Metric, proof));
                    }

                    break;
            }
        }

        return true;
    }

    /// <summary>The cached proof a route by reference names, else null, counted. Never verifies anything new.</summary>
    private OriginProof? Resolve(in UpdateEntry entry)
    {
        if (_known.TryGetValue(entry.Origin, out var known) && known.FindByReference(entry.Seqno, entry.ProofReference) is { } proof)
        {
            Interlocked.Increment(ref _referencesResolved);
            return proof;
        }

        Interlocked.Increment(ref _unknownReferences);
        return null;
    }

    /// <summary>The proof of a signed entry if it verifies (from the cache when it can), else null, counted.</summary>
    private OriginProof? Verify(in UpdateEntry entry)
    {
        if (_known.TryGetValue(entry.Origin, out var known))
        {
            // The cached key hashes to this address, so any other key cannot: no need to hash it.
            if (!entry.PublicKey.SequenceEqual(known.PublicKey))
            {
                Interlocked.Increment(ref _badKey);
                return null;
            }

            if (known.Find(entry.Seqno, entry.Signature, entry.PrefixBlock) is { } cached)
            {
                Interlocked.Increment(ref _cacheHits);
                return cached;
            }

            if (!SignatureVerifies(known.PublicKey, entry))
            {
                return null;
            }

            var proof = NewProof(entry, known.PublicKey);
            known.Remember(proof);
            return proof;
        }

        if (!PublicKeys.BelongsTo(entry.PublicKey, entry.Origin))
        {
            Interlocked.Increment(ref _badKey);
            return null;
        }

        if (!SignatureVerifies(entry.PublicKey, entry))
        {
            return null;
        }

        var verified = NewProof(entry, entry.PublicKey.ToArray());
        if (_known.Count >= _capacity)
        {
            Evict();
        }

        var added = new KnownOrigin(verified.PublicKey);
        added.Remember(verified);
        _known.Add(entry.Origin, added);
        return verified;
    }

    private static OriginProof NewProof(in UpdateEntry entry, byte[] publicKey) =>
        new(entry.Seqno, publicKey, entry.Signature.ToArray(), entry.PrefixBlock.SequenceEqual(OriginProof.NoPrefixes) ? null : entry.PrefixBlock.ToArray());

    /// <summary>
    /// Imports <paramref name="publicKey"/>, checks the entry's signature with it and disposes it.
    /// A key that does not parse as P-256 counts as a bad key, a signature that does not verify as
    /// a bad signature.
    /// </summary>
    private bool SignatureVerifies(ReadOnlySpan<byte> publicKey, in UpdateEntry entry)
    {
        if (!PublicKeys.TryImport(publicKey, out var imported))
        {
            Interlocked.Increment(ref _badKey);
            return false;
        }

        using var key = imported!;
        var length = OriginProof.StatementLength(entry.PrefixBlock.Length);
        if (_statement.Length < length)
        {
            _statement = new byte[length];
        }

        OriginProof.WriteStatement(_statement, entry.Origin, entry.Seqno, entry.PrefixBlock);
        Interlocked.Increment(ref _verifications);
        if (key.VerifyData(_statement.AsSpan(0, length), entry.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return true;
        }

        Interlocked.Increment(ref _badSignature);
        return false;
    }

    /// <summary>
    /// Makes room for one origin. Which one does not matter for correctness — an evicted origin
    /// is verified again when next heard in full, and its references go unresolved (and are asked
    /// for) until then — and the cache holds as many origins as the route table, so in a table
    /// that is not overfull nothing in use is evicted for long.
    /// </summary>
    private void Evict()
    {
        foreach (var address in _known.Keys)
        {
            _known.Remove(address);
            return;
        }
    }

    /// <summary>Empties the cache. The verifier holds no native resources (keys are disposed after each check).</summary>
    public void Dispose() => _known.Clear();

    /// <summary>A verified origin: its public key and the two most recent proofs verified with it. Bytes only.</summary>
    private sealed class KnownOrigin(byte[] publicKey)
    {
        public byte[] PublicKey { get; } = publicKey;

        private OriginProof? _latest;
        private OriginProof? _previous;

        public OriginProof? Find(ushort seqno, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> prefixBlock)
        {
            if (_latest is { } latest && latest.Seqno == seqno && latest.Matches(signature, prefixBlock))
            {
                return latest;
            }

            return _previous is { } previous && previous.Seqno == seqno && previous.Matches(signature, prefixBlock) ? previous : null;
        }

        public OriginProof? FindByReference(ushort seqno, ReadOnlySpan<byte> reference)
        {
            if (_latest is { } latest && latest.Seqno == seqno && latest.Reference.SequenceEqual(reference))
            {
                return latest;
            }

            return _previous is { } previous && previous.Seqno == seqno && previous.Reference.SequenceEqual(reference) ? previous : null;
        }

        public void Remember(OriginProof proof) => (_previous, _latest) = (_latest, proof);
    }
}

/// <summary>Signs this router's origin statements with its identity key (<see cref="IOriginSigner"/> for the engine).</summary>
internal sealed class OriginSigner(RouterIdentity identity) : IOriginSigner
{
    private volatile byte[]? _prefixBlock;

    /// <summary>Statements signed so far (once per change of the router's own seqno).</summary>
    public long Signatures => Interlocked.Read(ref _signatures);

    private long _signatures;

    /// <summary>
    /// The prefix block (<see cref="AnnouncedPrefixes"/>) signed into this router's next proofs;
    /// null for none. The engine must move to a new seqno after a change (see
    /// <see cref="RoutingEngine.OwnAnnouncementChanged"/>): one seqno, one statement.
    /// </summary>
    public byte[]? PrefixBlock
    {
        get => _prefixBlock;
        set => _prefixBlock = value;
    }

    public OriginProof Sign(ushort seqno)
    {
        var block = _prefixBlock;
        ReadOnlySpan<byte> prefixes = block ?? OriginProof.NoPrefixes;
        Span<byte> statement = stackalloc byte[OriginProof.StatementLength(prefixes.Length)];
        OriginProof.WriteStatement(statement, identity.Address, seqno, prefixes);
        var signature = identity.Key.SignData(statement, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        Interlocked.Increment(ref _signatures);
        return new OriginProof(seqno, identity.PublicKey, signature, block);
    }
}
