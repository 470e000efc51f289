using System.Security.Cryptography;
using NSec.Cryptography;

namespace Router.Security;

/// <summary>
/// AES-256-GCM with a 12-byte nonce and a 16-byte tag written after the ciphertext — the one
/// AEAD of the link seal and the end-to-end sessions. Where the CPU has AES and carry-less
/// multiply instructions it comes from libsodium (through NSec); elsewhere from the .NET class
/// library (OpenSSL). Both compute the same algorithm, so the bytes on the wire do not depend on
/// which one a router uses (tests check them against each other and the test vectors).
/// libsodium is preferred because its call is short: ~0.5 µs per small message against ~2 µs
/// for OpenSSL's, and about half the cost when it runs cold after an idle moment, which is
/// what an idle round trip pays four times (docs/PERFORMANCE.md).
/// <para>Safe for concurrent use with libsodium, not with OpenSSL: callers keep one instance per
/// direction and serialise its use. Allocates nothing per call.</para>
/// </summary>
internal sealed class AeadKey : IDisposable
{
    public const int KeyLength = 32;
    public const int NonceLength = 12;
    public const int TagLength = 16;

    private static readonly AeadAlgorithm Sodium = AeadAlgorithm.Aes256Gcm;
    private readonly Key? _sodiumKey;
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
            _sodiumKey = Key.Import(Sodium, key, KeyBlobFormat.RawSymmetricKey);
        }
        else
        {
            _openSsl = new AesGcm(key, TagLength);
        }
    }

    /// <summary>True when libsodium loaded and this CPU runs its AES-256-GCM.</summary>
    public static bool LibsodiumAvailable { get; } = ProbeLibsodium();

    /// <summary>Where AES-256-GCM comes from in this process, for the start-up log.</summary>
    public static string Implementation => LibsodiumAvailable ? "libsodium" : "OpenSSL";

    /// <summary>
    /// Seals <paramref name="plaintext"/> into <paramref name="ciphertextAndTag"/>, which is
    /// exactly <see cref="TagLength"/> bytes longer (an empty plaintext leaves just the tag).
    /// </summary>
    public void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertextAndTag, ReadOnlySpan<byte> associatedData)
    {
        if (_sodiumKey is not null)
        {
            Sodium.Encrypt(_sodiumKey, nonce, associatedData, plaintext, ciphertextAndTag);
            return;
        }

        var length = plaintext.Length;
        _openSsl!.Encrypt(nonce, plaintext, ciphertextAndTag[..length], ciphertextAndTag.Slice(length, TagLength), associatedData);
    }

    /// <summary>
    /// Opens <paramref name="ciphertextAndTag"/> into <paramref name="plaintext"/> (exactly
    /// <see cref="TagLength"/> bytes shorter); false, with nothing to trust in
    /// <paramref name="plaintext"/>, when the tag does not verify.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertextAndTag, Span<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        if (_sodiumKey is not null)
        {
            return Sodium.Decrypt(_sodiumKey, nonce, associatedData, ciphertextAndTag, plaintext);
        }

        var length = ciphertextAndTag.Length - TagLength;
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

    public void Dispose()
    {
        _sodiumKey?.Dispose();
        _openSsl?.Dispose();
    }

    private static bool ProbeLibsodium()
    {
        try
        {
            return Aes256Gcm.IsSupported;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or TypeInitializationException or EntryPointNotFoundException)
        {
            // No libsodium for this platform in the build: OpenSSL does the same job.
            return false;
        }
    }
}
