using System.Runtime.InteropServices;

namespace Router.Security;

/// <summary>
/// The few libsodium functions the router calls (AES-256-GCM with a precomputed key state), from
/// the native library the <c>libsodium</c> package ships for each platform. Not through NSec:
/// NSec keeps every key in its own guarded <c>sodium_malloc</c> allocation (four memory mappings
/// and ~10 KB each), so the session limit's 32,768 keys would exceed the kernel's 65,530
/// mappings per process and abort it; here a key's state is 512 bytes of ordinary native memory.
/// </summary>
internal static unsafe partial class Libsodium
{
    private const string Library = "libsodium";

    [LibraryImport(Library, EntryPoint = "sodium_init")]
    public static partial int Init();

    [LibraryImport(Library, EntryPoint = "crypto_aead_aes256gcm_is_available")]
    public static partial int Aes256GcmIsAvailable();

    [LibraryImport(Library, EntryPoint = "crypto_aead_aes256gcm_statebytes")]
    public static partial nuint Aes256GcmStateBytes();

    [LibraryImport(Library, EntryPoint = "crypto_aead_aes256gcm_beforenm")]
    public static partial int Aes256GcmBeforeNm(GcmState state, byte* key);

    [LibraryImport(Library, EntryPoint = "crypto_aead_aes256gcm_encrypt_afternm")]
    public static partial int Aes256GcmEncryptAfterNm(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, GcmState state);

    [LibraryImport(Library, EntryPoint = "crypto_aead_aes256gcm_decrypt_afternm")]
    public static partial int Aes256GcmDecryptAfterNm(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, GcmState state);
}

/// <summary>
/// One key's expanded AES-256-GCM state for libsodium (16-byte aligned native memory), wiped
/// and freed when released. Calls that take it hold a reference (the marshaller adds one), so
/// disposing it while a call runs frees it only afterwards, and a call after that throws
/// <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed unsafe class GcmState : SafeHandle
{
    private static readonly nuint Size = Libsodium.Aes256GcmStateBytes();

    public GcmState()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    /// <summary>A state expanded from <paramref name="key"/> (32 bytes).</summary>
    public static GcmState Create(ReadOnlySpan<byte> key)
    {
        var state = new GcmState();
        state.SetHandle((nint)NativeMemory.AlignedAlloc(Size, 16));
        fixed (byte* k = key)
        {
            if (Libsodium.Aes256GcmBeforeNm(state, k) != 0)
            {
                state.Dispose();
                throw new InvalidOperationException("libsodium could not expand an AES-256-GCM key");
            }
        }

        return state;
    }

    protected override bool ReleaseHandle()
    {
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(new Span<byte>((void*)handle, (int)Size));
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
