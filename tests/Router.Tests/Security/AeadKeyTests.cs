using System.Security.Cryptography;
using Router.Security;

namespace Router.Tests.Security;

/// <summary>
/// The AEAD's two implementations (libsodium where the CPU allows, OpenSSL elsewhere) must be
/// interchangeable on the wire: same bytes out, each opens what the other sealed, both refuse
/// any change. The checked-in vectors (SessionVectorTests, LinkVectorTests) pin the
/// bytes to an outside implementation.
/// </summary>
public sealed class AeadKeyTests
{
    private static readonly int[] Sizes = [0, 1, 15, 16, 17, 94, 255, 1400, 1500, 4096, 65_000, 65_536 + 100];

    [Fact]
    public void Libsodium_IsUsed_WhereTheCpuHasAesAndCarrylessMultiply()
    {
        // This machine kind (x64 with AES-NI and PCLMULQDQ) must get the fast implementation;
        // a build that silently lost libsodium would only show as a slower router.
        if (System.Runtime.Intrinsics.X86.Aes.IsSupported && System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported)
        {
            Assert.True(AeadKey.LibsodiumAvailable);
            Assert.Equal("libsodium", AeadKey.Implementation);
        }
    }

    [Fact]
    public void BothImplementations_SealTheSameBytes_AndOpenEachOthers()
    {
        if (!AeadKey.LibsodiumAvailable)
        {
            return; // one implementation: nothing to compare (the vectors still check it)
        }

        var random = new Random(0x6C5);
        foreach (var size in Sizes)
        {
            var key = Bytes(random, AeadKey.KeyLength);
            var nonce = Bytes(random, AeadKey.NonceLength);
            var aad = Bytes(random, size % 80);
            var plaintext = Bytes(random, size);
            using var sodium = new AeadKey(key, libsodium: true);
            using var openSsl = new AeadKey(key, libsodium: false);

            var bySodium = new byte[size + AeadKey.TagLength];
            var byOpenSsl = new byte[size + AeadKey.TagLength];
            sodium.Encrypt(nonce, plaintext, bySodium, aad);
            openSsl.Encrypt(nonce, plaintext, byOpenSsl, aad);
            Assert.Equal(Convert.ToHexString(byOpenSsl), Convert.ToHexString(bySodium));

            var opened = new byte[size];
            Assert.True(sodium.TryDecrypt(nonce, byOpenSsl, opened, aad));
            Assert.Equal(plaintext, opened);
            Array.Clear(opened);
            Assert.True(openSsl.TryDecrypt(nonce, bySodium, opened, aad));
            Assert.Equal(plaintext, opened);
        }
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void AnyChange_IsRefused(bool libsodium)
    {
        var random = new Random(0xBAD);
        using var aead = new AeadKey(Bytes(random, AeadKey.KeyLength), libsodium);
        var nonce = Bytes(random, AeadKey.NonceLength);
        var aad = Bytes(random, 73);
        var plaintext = Bytes(random, 40);
        var sealedBytes = new byte[plaintext.Length + AeadKey.TagLength];
        aead.Encrypt(nonce, plaintext, sealedBytes, aad);
        var opened = new byte[plaintext.Length];

        for (var bit = 0; bit < sealedBytes.Length * 8; bit++)
        {
            sealedBytes[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(aead.TryDecrypt(nonce, sealedBytes, opened, aad), $"flipped bit {bit} of the sealed bytes");
            sealedBytes[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        for (var bit = 0; bit < aad.Length * 8; bit += 7)
        {
            aad[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(aead.TryDecrypt(nonce, sealedBytes, opened, aad), $"flipped bit {bit} of the associated data");
            aad[bit / 8] ^= (byte)(1 << (bit % 8));
        }

        nonce[^1] ^= 1;
        Assert.False(aead.TryDecrypt(nonce, sealedBytes, opened, aad));
        nonce[^1] ^= 1;
        Assert.True(aead.TryDecrypt(nonce, sealedBytes, opened, aad));
        Assert.Equal(plaintext, opened);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void SealInPlace_GivesTheSameBytesAsSealingACopy(bool libsodium)
    {
        // The packet path seals a batch where it lies: ciphertext over plaintext, tag after it.
        var random = new Random(0x1D);
        using var aead = new AeadKey(Bytes(random, AeadKey.KeyLength), libsodium);
        var nonce = Bytes(random, AeadKey.NonceLength);
        var plaintext = Bytes(random, 3000);
        var copy = new byte[plaintext.Length + AeadKey.TagLength];
        aead.Encrypt(nonce, plaintext, copy, []);

        var inPlace = new byte[plaintext.Length + AeadKey.TagLength];
        plaintext.CopyTo(inPlace, 0);
        aead.Encrypt(nonce, inPlace.AsSpan(0, plaintext.Length), inPlace, []);
        Assert.Equal(copy, inPlace);
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void SealAndOpen_AllocateNothing(bool libsodium)
    {
        using var aead = new AeadKey(RandomNumberGenerator.GetBytes(AeadKey.KeyLength), libsodium);
        var nonce = new byte[AeadKey.NonceLength];
        var plaintext = new byte[1400];
        var sealedBytes = new byte[plaintext.Length + AeadKey.TagLength];
        var opened = new byte[plaintext.Length];
        aead.Encrypt(nonce, plaintext, sealedBytes, []);
        Assert.True(aead.TryDecrypt(nonce, sealedBytes, opened, []));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            aead.Encrypt(nonce, plaintext, sealedBytes, []);
            aead.TryDecrypt(nonce, sealedBytes, opened, []);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void KeysForEverySessionAndLink_FitInOneProcess()
    {
        // Two keys per end-to-end session at the default limit, plus links: a key must not cost
        // a memory mapping of its own (NSec's keys do; 65,530 mappings abort the process).
        var limit = (2 * new Router.Security.Sessions.SessionOptions().MaxSessions) + 2_000;
        var keys = new List<AeadKey>(limit);
        try
        {
            var key = new byte[AeadKey.KeyLength];
            for (var i = 0; i < limit; i++)
            {
                key[0] = (byte)i;
                keys.Add(new AeadKey(key));
            }

            var nonce = new byte[AeadKey.NonceLength];
            var sealedBytes = new byte[AeadKey.TagLength];
            keys[^1].Encrypt(nonce, [], sealedBytes, [1, 2, 3]);
            Assert.True(keys[^1].TryDecrypt(nonce, sealedBytes, [], [1, 2, 3]));
            Assert.False(keys[0].TryDecrypt(nonce, sealedBytes, [], [1, 2, 3]));
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void DisposedKey_RefusesToWork(bool libsodium)
    {
        var aead = new AeadKey(new byte[AeadKey.KeyLength], libsodium);
        aead.Dispose();
        Assert.Throws<ObjectDisposedException>(() => aead.Encrypt(new byte[AeadKey.NonceLength], [], new byte[AeadKey.TagLength], []));
    }

    [Theory]
    [MemberData(nameof(Implementations))]
    public void WrongLengths_AreRefused_NotPassedToNativeCode(bool libsodium)
    {
        using var aead = new AeadKey(new byte[AeadKey.KeyLength], libsodium);
        var nonce = new byte[AeadKey.NonceLength];
        Assert.Throws<ArgumentException>(() => aead.Encrypt(nonce, new byte[10], new byte[25], []));
        Assert.Throws<ArgumentException>(() => aead.Encrypt(new byte[8], new byte[10], new byte[26], []));
        Assert.Throws<ArgumentException>(() => aead.TryDecrypt(nonce, new byte[26], new byte[9], []));
        var buffer = new byte[40];
        Assert.Throws<ArgumentException>(() => aead.Encrypt(nonce, buffer.AsSpan(0, 10), buffer.AsSpan(4, 26), []));
        Assert.False(aead.TryDecrypt(nonce, new byte[15], [], []));
    }

    [Fact]
    public void WrongKeyLength_IsRefusedWithAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => new AeadKey(new byte[16]));
        Assert.Contains("32 bytes, not 16", error.Message);
    }

    public static TheoryData<bool> Implementations()
    {
        var data = new TheoryData<bool> { false };
        if (AeadKey.LibsodiumAvailable)
        {
            data.Add(true);
        }

        return data;
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
