using System.Security.Cryptography;
using Router.Sdk;

namespace Router.Identity;

/// <summary>
/// Router public keys on the wire: P-256 SubjectPublicKeyInfo (DER, always 91 bytes), whose
/// SHA-256 hash is the router's address. Whoever sends a key proves it is the key of an
/// address by this hash; signatures made with it are then checked with <see cref="TryImport"/>.
/// </summary>
internal static class PublicKeys
{
    /// <summary>Length of a P-256 SubjectPublicKeyInfo in DER.</summary>
    public const int SpkiLength = 91;

    /// <summary>Length of an ECDSA P-256 signature in IEEE P1363 form (r ‖ s).</summary>
    public const int SignatureLength = 64;

    /// <summary>Whether <paramref name="spki"/> hashes to <paramref name="address"/>. Cheap: one SHA-256, no parsing.</summary>
    public static bool BelongsTo(ReadOnlySpan<byte> spki, RouterAddress address) =>
        spki.Length == SpkiLength && RouterIdentity.DeriveAddress(spki) == address;

    /// <summary>
    /// Imports a P-256 public key for verifying signatures. False (never an exception) when
    /// the bytes are not a P-256 SubjectPublicKeyInfo of exactly <see cref="SpkiLength"/> bytes.
    /// </summary>
    public static bool TryImport(ReadOnlySpan<byte> spki, out ECDsa? key)
    {
        key = null;
        if (spki.Length != SpkiLength)
        {
            return false;
        }

        var candidate = ECDsa.Create();
        try
        {
            candidate.ImportSubjectPublicKeyInfo(spki, out var read);
            if (read != SpkiLength || candidate.KeySize != 256)
            {
                candidate.Dispose();
                return false;
            }

            key = candidate;
            return true;
        }
        catch (CryptographicException)
        {
            candidate.Dispose();
            return false;
        }
    }
}
