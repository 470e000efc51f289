using System.Security.Cryptography;

namespace Router.Security;

/// <summary>
/// AES-256-GCM with a 12-byte nonce and a 16-byte tag written after the ciphertext — the one
/// AEAD of the link seal and the end-to-end sessions. Where the CPU has AES and carry-less
/// multiply instructions it comes from libsodium (<see cref="Libsodium"/>); elsewhere from the
/// .NET class library (OpenSSL). Both compute the same algorithm, so the bytes on the wire do not
/// depend on which one a router uses (tests check them against each other and the test vectors).
/// libsodium is preferred because its call is short: ~0.3 µs per small message against ~1–2 µs
/// for OpenSSL's, and about half the cost when it runs cold after an idle moment, which is what
/// an idle round trip pays four times (docs/PERFORMANCE.md).
/// <para>Safe for concurrent use with libsodium, not with OpenSSL: callers keep one instance per
/// direction and serialise its use. Allocates nothing per call.</para>
/// </summary>
internal sealed unsafe class AeadKey : IDisposable
{
    public const int KeyLength = 32;
    public const int NonceLength = 12;
    public const int TagLength = 16;

    private readonly GcmState? _sodium;
    private readonly AesGcm? _openSsl;

    public AeadKey(ReadOnlySpan<byte> key)
        : this(key, LibsodiumAvailable)
    {
    }

    /// <summary>Uses libsodium when <paramref name="libsodium"/> (which must then be available), else OpenSSL.</summary>
    internal AeadKey(ReadOnlySpan<byte> key, bool libsodium)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException($"an AES-256-GCM key is {KeyLength} bytes, not {key.Length}", nameof(key));
        }

        if (libsodium)
        {
            _sodium = GcmState.Create(key);
        }
        else
        {
            _openSsl = new AesGcm(key, TagLength);
        }
    }

    /// <summary>True when libsodium loaded and this CPU runs its AES-256-GCM.</summary>
    public static bool LibsodiumAvailable { get; } = ProbeLibsodium();

    /// <summary>Where AES-256-GCM comes from in this process, for the start-up log and <c>router --version</c>.</summary>
    public static string Implementation => LibsodiumAvailable ? "libsodium" : "OpenSSL";

    /// <summary>
    /// Seals <paramref name="plaintext"/> into <paramref name="ciphertextAndTag"/>, which is
    /// exactly <see cref="TagLength"/> bytes longer (an empty plaintext leaves just the tag). The
    /// two may be the same memory (sealing in place), not otherwise overlap.
    /// </summary>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertextAndTag, ReadOnlySpan<byte> associatedData)
    {
        Check(nonce, ciphertextAndTag, plaintext);
        if (_sodium is null)
        {
            var length = plaintext.Length;
            _openSsl!.Encrypt(nonce, plaintext, ciphertextAndTag[..length], ciphertextAndTag.Slice(length, TagLength), associatedData);
            return;
        }

        fixed (byte* c = ciphertextAndTag, m = plaintext, ad = associatedData, npub = nonce)
        {
            Libsodium.Aes256GcmEncryptAfterNm(c, null, m, (ulong)plaintext.Length, ad, (ulong)associatedData.Length, null, npub, _sodium);
        }
    }

    /// <summary>
    /// Opens <paramref name="ciphertextAndTag"/> into <paramref name="plaintext"/> (exactly
    /// <see cref="TagLength"/> bytes shorter; the same memory or not overlapping); false, with
    /// nothing to trust in <paramref name="plaintext"/>, when the tag does not verify.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        if (ciphertextAndTag.Length < TagLength)
        {
            return false;
        }

        Check(nonce, ciphertextAndTag, plaintext);
        if (_sodium is null)
        {
            var length = plaintext.Length;
            try
            {
                _openSsl!.Decrypt(nonce, ciphertextAndTag[..length], ciphertextAndTag[length..], plaintext, associatedData);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                return false;
            }
        }

        fixed (byte* m = plaintext, c = ciphertextAndTag, ad = associatedData, npub = nonce)
        {
            return Libsodium.Aes256GcmDecryptAfterNm(m, null, null, c, (ulong)ciphertextAndTag.Length, ad, (ulong)associatedData.Length, npub, _sodium) == 0;
        }
    }

    public void Dispose()
    {
        _sodium?.Dispose();
        _openSsl?.Dispose();
    }

    /// <summary>The native calls trust their lengths: anything else is the caller's bug, refused here.</summary>
    private static void Check(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertextAndTag, ReadOnlySpan<byte> plaintext)
    {
        if (nonce.Length != NonceLength)
        {
            throw new ArgumentException($"an AES-256-GCM nonce is {NonceLength} bytes, not {nonce.Length}", nameof(nonce));
        }

        if (ciphertextAndTag.Length != plaintext.Length + TagLength)
        {
            throw new ArgumentException($"the sealed bytes must be {TagLength} longer than the plaintext ({ciphertextAndTag.Length} against {plaintext.Length})", nameof(ciphertextAndTag));
        }

        if (plaintext.Overlaps(ciphertextAndTag, out var offset) && offset != 0)
        {
            throw new ArgumentException("the plaintext and the sealed bytes overlap without starting at the same place", nameof(plaintext));
        }
    }

    private static bool ProbeLibsodium()
    {
        try
        {
            return Libsodium.Init() >= 0 && Libsodium.Aes256GcmIsAvailable() == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            // No libsodium for this platform in the build: OpenSSL does the same job.
            return false;
        }
    }
}
