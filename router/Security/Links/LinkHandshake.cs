using System.Security.Cryptography;
using System.Text;
using Router.Identity;
using Router.Sdk;

namespace Router.Security.Links;

/// <summary>Why a link handshake message was rejected.</summary>
internal enum HandshakeFailure
{
    None,

    /// <summary>Not a handshake message (length, version, flags, not a curve point).</summary>
    Malformed,

    /// <summary>The identity key does not hash to the sender's address, or the sender is not the neighbour the netmod reported.</summary>
    IdentityMismatch,

    /// <summary>The ephemeral key is not a valid P-256 point.</summary>
    BadEphemeral,

    /// <summary>The key confirmation does not match: the other router uses another network secret (or the message was altered).</summary>
    BadConfirmation,

    /// <summary>The signature does not verify with the sender's identity key.</summary>
    BadSignature,
}

/// <summary>What to do after a handshake message was received.</summary>
/// <param name="Failure">Why the message was rejected, or <see cref="HandshakeFailure.None"/>.</param>
/// <param name="SendOurs">Send our current message: the peer still needs it (it has not confirmed
/// our proof for this pair of ephemeral keys), or it now carries a proof not sent before.</param>
/// <param name="Keys">Set when the peer proved its identity: the link's keys. Given at most once by
/// a handshake: a repeated proof yields none, so a session is never restarted on the same keys
/// (its nonces would repeat).</param>
/// <param name="PeerStartedOver">The handshake had given out its keys, and the peer sent a first
/// message with a new ephemeral key: it started over. This handshake does not answer it (it
/// never agrees again); a new one, with a new ephemeral key of ours, should.</param>
internal readonly record struct HandshakeStep(HandshakeFailure Failure, bool SendOurs, LinkKeys? Keys, bool PeerStartedOver = false);

/// <summary>The two keys of an authenticated link, one per direction.</summary>
internal sealed record LinkKeys(byte[] SendKey, byte[] ReceiveKey);

/// <summary>
/// One side of the link handshake with one neighbour (docs/security.md). Symmetric: both
/// sides send an ephemeral P-256 key and their identity; each answers the other's ephemeral
/// key with a proof: an ECDSA signature by its identity key over the transcript (both
/// addresses and both ephemeral keys) and an HMAC key confirmation under a key derived from
/// the ECDH secret and the network secret. Link keys come from HKDF over the ECDH secret, so
/// they are fresh for every handshake (forward secrecy). Any message may be lost: a side answers
/// every message that does not confirm it has our proof (<see cref="LinkHandshakeMessage.Confirmed"/>),
/// so the peer's resends are answered until both hold the keys, and a confirmed message is never
/// answered, so two sides never keep answering each other. Not thread-safe: one owner.
/// </summary>
internal sealed class LinkHandshake : IDisposable
{
    private static readonly byte[] TranscriptLabel = "router-link-v1"u8.ToArray();
    private static readonly byte[] ProofLabel = "router-link-v1 proof"u8.ToArray();
    private static readonly byte[] KeysLabel = "router-link-v1 keys"u8.ToArray();
    private static readonly byte[] ConfirmLabel = "router-link-v1 confirm"u8.ToArray();

    private readonly RouterIdentity _identity;
    private RouterAddress _peer;
    private readonly byte[] _networkKey;
    private readonly ECDiffieHellman _ephemeral;
    private readonly byte[] _ephemeralPublic;
    private byte[]? _peerEphemeral;
    private byte[]? _signature;
    private byte[]? _confirmation;
    private byte[]? _material; // send key ‖ receive key ‖ peer's expected confirmation
    private bool _proofSent;
    private bool _completed; // the peer's proof was verified and the keys given out: once per handshake

    /// <param name="identity">This router's key.</param>
    /// <param name="peer">The neighbour's address as its netmod reported it, which the handshake must
    /// prove; <see cref="RouterAddress.None"/> when the netmod has no handshake of its own, and
    /// then the address the neighbour proves is taken.</param>
    /// <param name="networkKey">From <see cref="NetworkKey"/>: empty for an open network.</param>
    public LinkHandshake(RouterIdentity identity, RouterAddress peer, byte[] networkKey)
    {
        _identity = identity;
        _peer = peer;
        _networkKey = networkKey;
        _ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        _ephemeralPublic = EncodePoint(_ephemeral.ExportParameters(false).Q);
    }

    /// <summary>The neighbour's address: as reported by the netmod, or as proven once it is not.</summary>
    public RouterAddress Peer => _peer;

    /// <summary>This router's address.</summary>
    public RouterAddress Self => _identity.Address;

    /// <summary>Whether we have sent the proof for the peer's current ephemeral key.</summary>
    public bool ProofSent => _proofSent;

    /// <summary>Whether the peer's proof was verified and the keys given out (at most once per handshake).</summary>
    public bool Completed => _completed;

    /// <summary>The network key for a secret: SHA-256 of a label and the secret; empty when there is none.</summary>
    public static byte[] NetworkKey(string? secret) =>
        string.IsNullOrEmpty(secret) ? [] : SHA256.HashData([.. "router-network-v1"u8, .. Encoding.UTF8.GetBytes(secret)]);

    /// <summary>Writes our current message: with a proof once we know the peer's ephemeral key.</summary>
    public int Write(Span<byte> payload)
    {
        if (_peerEphemeral is null)
        {
            LinkHandshakeMessage.Write(payload, _ephemeralPublic, [], _identity.PublicKey, [], []);
        }
        else
        {
            LinkHandshakeMessage.Write(payload, _ephemeralPublic, _peerEphemeral, _identity.PublicKey, _signature, _confirmation, confirmed: _completed);
            _proofSent = true;
        }

        return LinkHandshakeMessage.Size;
    }

    /// <summary>Handles the neighbour's message, sent from <paramref name="source"/> (the frame header's source).</summary>
    public HandshakeStep Receive(ReadOnlySpan<byte> payload, RouterAddress source)
    {
        if (LinkHandshakeMessage.TryRead(payload, out var message) != LinkHandshakeMessage.Error.None)
        {
            return new HandshakeStep(HandshakeFailure.Malformed, false, null);
        }

        if ((!_peer.IsNone && source != _peer) || source == _identity.Address || !PublicKeys.BelongsTo(message.Spki, source))
        {
            return new HandshakeStep(HandshakeFailure.IdentityMismatch, false, null);
        }

        _peer = source;

        if (_completed && !message.Ephemeral.SequenceEqual(_peerEphemeral))
        {
            // Done: this handshake's keys are out, and neither they nor our ephemeral key may
            // serve another pair. A first message (no proof) with a new key is the peer starting
            // over; anything else with a new key answers an ephemeral key we never had here:
            // stale, or forged (answering it would make a live peer start over too).
            return new HandshakeStep(HandshakeFailure.None, false, null, PeerStartedOver: !message.HasProof);
        }

        if (_peerEphemeral is null || !message.Ephemeral.SequenceEqual(_peerEphemeral))
        {
            // A new attempt from the peer (first message, or it restarted): answer it.
            if (!TryAgree(message.Ephemeral))
            {
                return new HandshakeStep(HandshakeFailure.BadEphemeral, false, null);
            }
        }

        LinkKeys? keys = null;
        var answersOurs = message.HasProof && message.PeerEphemeral.SequenceEqual(_ephemeralPublic);
        if (answersOurs && !_completed)
        {
            if (!CryptographicOperations.FixedTimeEquals(message.Confirmation, _material.AsSpan(64, 32)))
            {
                return new HandshakeStep(HandshakeFailure.BadConfirmation, false, null);
            }

            if (!PublicKeys.TryImport(message.Spki, out var peerKey))
            {
                return new HandshakeStep(HandshakeFailure.IdentityMismatch, false, null);
            }

            using (peerKey)
            {
                var signed = ProofInput(_peer, Transcript(message.Ephemeral));
                if (!peerKey!.VerifyData(signed, message.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
                {
                    return new HandshakeStep(HandshakeFailure.BadSignature, false, null);
                }
            }

            keys = new LinkKeys(_material.AsSpan(0, 32).ToArray(), _material.AsSpan(32, 32).ToArray());
            _completed = true;
        }

        // A proof that answers an older ephemeral key of ours is stale: ignored, not an error.
        // The peer still needs our message unless it confirms our proof for this very pair:
        // its resends are answered however many of ours were lost.
        var peerHasOurs = answersOurs && message.Confirmed;
        return new HandshakeStep(HandshakeFailure.None, !_proofSent || !peerHasOurs, keys);
    }

    /// <summary>Computes everything that depends on the peer's ephemeral key, once per key.</summary>
    private bool TryAgree(ReadOnlySpan<byte> peerEphemeral)
    {
        byte[] secret;
        try
        {
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = peerEphemeral.Slice(1, 32).ToArray(), Y = peerEphemeral.Slice(33, 32).ToArray() },
            });
            secret = _ephemeral.DeriveRawSecretAgreement(peer.PublicKey);
        }
        catch (CryptographicException)
        {
            return false;
        }

        _peerEphemeral = peerEphemeral.ToArray();
        var transcript = Transcript(_peerEphemeral);
        (_material, _confirmation) = DeriveMaterial(secret, _networkKey, transcript, _identity.Address, _peer);
        CryptographicOperations.ZeroMemory(secret);
        _signature = _identity.Key.SignData(ProofInput(_identity.Address, transcript), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        _proofSent = false;
        return true;
    }

    /// <summary>
    /// HKDF-SHA256(secret, salt = network key, info = label ‖ transcript) → key low→high ‖ key
    /// high→low ‖ confirmation key. Returns send key ‖ receive key ‖ the confirmation expected
    /// from the peer, and the confirmation we send.
    /// </summary>
    internal static (byte[] Material, byte[] OurConfirmation) DeriveMaterial(byte[] secret, byte[] networkKey, byte[] transcript, RouterAddress self, RouterAddress peer)
    {
        var okm = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 96, networkKey, [.. KeysLabel, .. transcript]);
        var selfIsLow = self.CompareTo(peer) < 0;
        var confirmKey = okm.AsSpan(64, 32);
        var ours = Confirmation(confirmKey, self, transcript);
        var material = new byte[96];
        okm.AsSpan(selfIsLow ? 0 : 32, 32).CopyTo(material);
        okm.AsSpan(selfIsLow ? 32 : 0, 32).CopyTo(material.AsSpan(32));
        Confirmation(confirmKey, peer, transcript).CopyTo(material, 64);
        CryptographicOperations.ZeroMemory(okm);
        return (material, ours);
    }

    private byte[] Transcript(ReadOnlySpan<byte> peerEphemeral) => Transcript(_identity.Address, _peer, _ephemeralPublic, peerEphemeral);

    /// <summary>SHA-256 over the label, both addresses and both ephemeral keys, lower address first (so both sides agree).</summary>
    internal static byte[] Transcript(RouterAddress self, RouterAddress peer, ReadOnlySpan<byte> selfEphemeral, ReadOnlySpan<byte> peerEphemeral)
    {
        var selfIsLow = self.CompareTo(peer) < 0;
        Span<byte> addresses = stackalloc byte[2 * RouterAddress.Length];
        (selfIsLow ? self : peer).Write(addresses);
        (selfIsLow ? peer : self).Write(addresses[RouterAddress.Length..]);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(TranscriptLabel);
        hash.AppendData(addresses);
        hash.AppendData(selfIsLow ? selfEphemeral : peerEphemeral);
        hash.AppendData(selfIsLow ? peerEphemeral : selfEphemeral);
        return hash.GetHashAndReset();
    }

    private static byte[] ProofInput(RouterAddress signer, byte[] transcript)
    {
        var input = new byte[ProofLabel.Length + RouterAddress.Length + transcript.Length];
        ProofLabel.CopyTo(input, 0);
        signer.Write(input.AsSpan(ProofLabel.Length));
        transcript.CopyTo(input, ProofLabel.Length + RouterAddress.Length);
        return input;
    }

    private static byte[] Confirmation(ReadOnlySpan<byte> key, RouterAddress signer, byte[] transcript)
    {
        var input = new byte[ConfirmLabel.Length + RouterAddress.Length + transcript.Length];
        ConfirmLabel.CopyTo(input, 0);
        signer.Write(input.AsSpan(ConfirmLabel.Length));
        transcript.CopyTo(input, ConfirmLabel.Length + RouterAddress.Length);
        return HMACSHA256.HashData(key, input);
    }

    private static byte[] EncodePoint(ECPoint q) => [4, .. q.X!, .. q.Y!];

    public void Dispose() => _ephemeral.Dispose();
}
