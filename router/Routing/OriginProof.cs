using System.Buffers.Binary;
using Router.Identity;
using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// Proof that a route's origin announced a sequence number: the origin's public key
/// (SubjectPublicKeyInfo, whose SHA-256 hash is the origin's address) and its ECDSA P-256
/// signature over the <see cref="WriteStatement">origin statement</see>. Created once by the
/// origin (<see cref="IOriginSigner"/>) or by the verifier that checked it
/// (<see cref="OriginVerifier"/>), then passed along unchanged with the route by every router
/// — the engine stores it with each offered route and advertises the selected route with it.
/// Immutable; the arrays must not be written after construction. Holds no crypto state, so
/// the engine and the simulator stay crypto-free.
/// </summary>
internal sealed class OriginProof
{
    /// <summary>Domain separation: the first 16 bytes of every origin statement.</summary>
    public static ReadOnlySpan<byte> Tag => "router-origin-v1"u8;

    /// <summary>The prefix block of an origin that announces no prefixes: a zero count.</summary>
    public static ReadOnlySpan<byte> NoPrefixes => [0];

    /// <summary>Longest prefix block that still fits a signed route entry (u8 TLV length).</summary>
    public const int MaxPrefixBlockLength = byte.MaxValue - UpdateMessage.SignedRouteFixedLength;

    /// <summary>Length of a <see cref="Reference"/>.</summary>
    public const int ReferenceLength = 8;

    private static readonly byte[] EmptyPrefixBlock = [0];

    /// <param name="prefixBlock">Null: no prefixes (a shared <c>[0]</c>, so proofs of origins without prefixes allocate no block).</param>
    public OriginProof(ushort seqno, byte[] publicKey, byte[] signature, byte[]? prefixBlock = null)
    {
        if (publicKey.Length != PublicKeys.SpkiLength)
        {
            throw new ArgumentException($"a public key is {PublicKeys.SpkiLength} bytes", nameof(publicKey));
        }

        if (signature.Length != PublicKeys.SignatureLength)
        {
            throw new ArgumentException($"a signature is {PublicKeys.SignatureLength} bytes", nameof(signature));
        }

        prefixBlock ??= EmptyPrefixBlock;
        if (prefixBlock.Length is < 1 or > MaxPrefixBlockLength)
        {
            throw new ArgumentException($"a prefix block is 1 to {MaxPrefixBlockLength} bytes", nameof(prefixBlock));
        }

        Seqno = seqno;
        PublicKey = publicKey;
        Signature = signature;
        PrefixBlock = prefixBlock;
    }

    /// <summary>The origin sequence number the signature covers.</summary>
    public ushort Seqno { get; }

    /// <summary>The origin's P-256 SubjectPublicKeyInfo (DER, 91 bytes).</summary>
    public byte[] PublicKey { get; }

    /// <summary>ECDSA P-256 over SHA-256 of the statement, IEEE P1363 (r ‖ s, 64 bytes).</summary>
    public byte[] Signature { get; }

    /// <summary>
    /// The announced-prefix block exactly as signed and sent: <c>u8 count</c>, then the
    /// prefixes (<see cref="AnnouncedPrefixes"/>); <c>[0]</c> for a router that announces none.
    /// Routers verify and forward it whole; the <see cref="PrefixTable"/> decodes it.
    /// </summary>
    public byte[] PrefixBlock { get; }

    /// <summary>Length of the statement for a prefix block of <paramref name="prefixBlockLength"/> bytes.</summary>
    public static int StatementLength(int prefixBlockLength) => Tag.Length + RouterAddress.Length + 2 + prefixBlockLength;

    /// <summary>
    /// Writes what an origin signs:
    /// <c>"router-origin-v1" ‖ [32] origin address ‖ u16 seqno ‖ prefix block (u8 count ‖ prefixes)</c>.
    /// The metric is not in it: it changes at every hop. Returns the bytes written.
    /// </summary>
    public static int WriteStatement(Span<byte> destination, RouterAddress origin, ushort seqno, ReadOnlySpan<byte> prefixBlock)
    {
        Tag.CopyTo(destination);
        var position = Tag.Length;
        origin.Write(destination.Slice(position, RouterAddress.Length));
        position += RouterAddress.Length;
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], seqno);
        position += 2;
        prefixBlock.CopyTo(destination[position..]);
        return position + prefixBlock.Length;
    }

    /// <summary>
    /// What a route entry by proof reference (type 3) carries instead of the proof: the first
    /// <see cref="ReferenceLength"/> bytes of the signature. It names this proof among those its
    /// receiver verified for the same origin and seqno; it proves nothing by itself (the
    /// receiver uses its own verified copy, never bytes from the entry). The signature covers
    /// the prefix block, so two proofs of one (origin, seqno) with different prefix blocks have
    /// different signatures, and 64 bits of r make an accidental match negligible.
    /// </summary>
    public ReadOnlySpan<byte> Reference => Signature.AsSpan(0, ReferenceLength);

    /// <summary>Same prefix block and signature as the given bytes (seqno and key compared by the caller).</summary>
    public bool Matches(ReadOnlySpan<byte> signature, ReadOnlySpan<byte> prefixBlock) =>
        signature.SequenceEqual(Signature) && prefixBlock.SequenceEqual(PrefixBlock);

    public override string ToString() => $"proof of seqno {Seqno} ({Convert.ToHexStringLower(Signature.AsSpan(0, 4))}…)";
}

/// <summary>
/// Signs this router's own origin statements for the <see cref="RoutingEngine"/>, which asks
/// once per change of its own seqno and caches the answer. Called on the engine's thread.
/// </summary>
internal interface IOriginSigner
{
    /// <summary>A proof for this router's own address at <paramref name="seqno"/>, with the prefixes it currently announces.</summary>
    OriginProof Sign(ushort seqno);
}
