using System.Security.Cryptography;
using Router.Sdk;

namespace Router.Identity;

/// <summary>
/// This router's key pair and the address derived from it. The address is the SHA-256 hash
/// of the public key (its SubjectPublicKeyInfo encoding), so only the holder of the private
/// key can prove it owns the address.
/// </summary>
internal sealed class RouterIdentity : IDisposable
{
    private RouterIdentity(ECDsa key)
    {
        Key = key;
        PublicKey = key.ExportSubjectPublicKeyInfo();
        Address = DeriveAddress(PublicKey);
    }

    /// <summary>The P-256 signing key.</summary>
    public ECDsa Key { get; }

    /// <summary>The public key, SubjectPublicKeyInfo DER.</summary>
    public byte[] PublicKey { get; }

    /// <summary>The router address: SHA-256 of <see cref="PublicKey"/>.</summary>
    public RouterAddress Address { get; }

    public static RouterAddress DeriveAddress(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(subjectPublicKeyInfo, hash);
        return RouterAddress.Read(hash);
    }

    public static RouterIdentity Create() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public static RouterIdentity FromPem(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            if (key.KeySize != 256)
            {
                throw new CryptographicException($"expected a P-256 key, found a {key.KeySize}-bit key");
            }

            return new RouterIdentity(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    public string ExportPem() => Key.ExportPkcs8PrivateKeyPem();

    public void Dispose() => Key.Dispose();
}
