using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Router.Identity;
using Router.Routing;

namespace Router.Benchmarks.Routing;

/// <summary>
/// <c>routing --origin-cache N</c>: the memory the verified-origin cache (<see cref="OriginVerifier"/>)
/// holds per origin. N origins each sign two seqnos; updates of seven signed routes each go
/// through one verifier, first every origin's first seqno, then its second (filling both cache
/// slots). After each pass it reports the growth of the managed heap (after full collections)
/// and of the native heap (glibc <c>mallinfo2</c>: bytes in use, mmapped blocks included), per
/// origin. For comparison it then imports every origin's key as an <see cref="ECDsa"/> and keeps
/// them, as the cache did before it held bytes only. Each step runs in its own method so that no
/// temporary of another step stays reachable from this one's stack frame. Linux (glibc) only.
/// </summary>
internal static class OriginCacheMemory
{
    private const int RoutesPerUpdate = 7;

    private static OriginVerifier? s_verifier;
    private static List<ECDsa>? s_keys;

    public static int Execute(int origins)
    {
        Console.WriteLine($"origin cache memory: {origins:N0} origins, two seqnos each, {RoutesPerUpdate} routes per update");
        var (first, second, publicKeys) = Updates(origins);

        // A warm-up pass through a verifier that is then dropped: code paths run once (JIT, the
        // crypto library's lazy state), so that the baseline is steady.
        WarmUp(first, origins);
        var baseline = Measure("baseline");
        Fill(first, origins);
        var oneProof = Measure("one proof per origin");
        Feed(s_verifier!, second);
        var twoProofs = Measure("two proofs per origin");
        if (s_verifier!.CachedOrigins != origins || s_verifier.Verifications != 2L * origins)
        {
            Console.Error.WriteLine($"unexpected: {s_verifier.CachedOrigins} origins cached, {s_verifier.Verifications} signatures checked");
            return 1;
        }

        ImportKeys(publicKeys);
        var withKeys = Measure("and an imported key per origin");
        Report("cache, one proof per origin", baseline, oneProof, origins);
        Report("cache, two proofs per origin", baseline, twoProofs, origins);
        Report("an imported ECDsa key (the cache's old per-origin cost, on top)", twoProofs, withKeys, origins);
        foreach (var key in s_keys!)
        {
            key.Dispose();
        }

        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (List<byte[]> First, List<byte[]> Second, List<byte[]> PublicKeys) Updates(int origins)
    {
        var first = new List<byte[]>();
        var second = new List<byte[]>();
        var publicKeys = new List<byte[]>(origins);
        var firstBatch = new List<RouteAdvert>();
        var secondBatch = new List<RouteAdvert>();
        for (var i = 0; i < origins; i++)
        {
            using var identity = RouterIdentity.Create();
            var signer = new OriginSigner(identity);
            publicKeys.Add(identity.PublicKey);
            firstBatch.Add(new RouteAdvert(identity.Address, 1, 100, signer.Sign(1)));
            secondBatch.Add(new RouteAdvert(identity.Address, 2, 100, signer.Sign(2)));
            if (firstBatch.Count == RoutesPerUpdate || i == origins - 1)
            {
                first.Add(Payload(firstBatch));
                second.Add(Payload(secondBatch));
                firstBatch.Clear();
                secondBatch.Clear();
            }
        }

        return (first, second, publicKeys);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WarmUp(List<byte[]> payloads, int origins) => Feed(new OriginVerifier(origins + 1), payloads);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Fill(List<byte[]> payloads, int origins)
    {
        s_verifier = new OriginVerifier(origins + 1);
        Feed(s_verifier, payloads);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ImportKeys(List<byte[]> publicKeys)
    {
        s_keys = new List<ECDsa>(publicKeys.Count);
        foreach (var publicKey in publicKeys)
        {
            var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(publicKey, out _);
            s_keys.Add(key);
        }
    }

    private static byte[] Payload(List<RouteAdvert> routes)
    {
        var span = CollectionsMarshal.AsSpan(routes);
        var payload = new byte[UpdateMessage.Size(span)];
        UpdateMessage.Write(payload, 400, span);
        return payload;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Feed(OriginVerifier verifier, List<byte[]> payloads)
    {
        var routes = new List<RouteAdvert>();
        foreach (var payload in payloads)
        {
            verifier.TryReadUpdate(payload, routes, out _);
        }
    }

    private static void Report(string what, (long Managed, long Native) from, (long Managed, long Native) to, int origins) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: managed {(to.Managed - from.Managed) / (double)origins:F0} B, native {(to.Native - from.Native) / (double)origins:F0} B per origin"));

    private static (long Managed, long Native) Measure(string what)
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        var managed = GC.GetTotalMemory(forceFullCollection: true);
        var info = MallInfo2();
        var native = (long)(info.Uordblks + info.Hblkhd);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what}: managed heap {managed:N0} B, native heap in use {native:N0} B"));
        return (managed, native);
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();

    /// <summary>glibc's <c>struct mallinfo2</c> (glibc 2.33 and later).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint Ordblks;
        public readonly nuint Smblks;
        public readonly nuint Hblks;
        public readonly nuint Hblkhd;
        public readonly nuint Usmblks;
        public readonly nuint Fsmblks;
        public readonly nuint Uordblks;
        public readonly nuint Fordblks;
        public readonly nuint Keepcost;
    }
}
