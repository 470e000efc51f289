using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Fuzz;

/// <summary>
/// Origin proofs for the update and verifier corpora: five P-256 public keys, each with
/// signatures over two sequence numbers, made once by <see cref="OriginSigner"/> and kept here
/// because ECDSA signatures are randomised: signing afresh at every run would change the
/// corpus, and with it the input behind every seed and iteration. Every proof must still verify
/// (<see cref="SignedRoutesTests"/>); if the origin statement's format changes, regenerate them
/// by signing with <see cref="OriginSigner"/> and printing <c>PublicKey</c> and <c>Signature</c> in hex.
/// </summary>
internal static class SignedRoutes
{
    /// <summary>(SubjectPublicKeyInfo, seqno, signature, seqno, signature), hex; no prefixes announced.</summary>
    private static readonly (string Key, ushort Seqno1, string Signature1, ushort Seqno2, string Signature2)[] Proofs =
    [
        ("3059301306072a8648ce3d020106082a8648ce3d03010703420004f56afc5d10864232f349cc2034fd94a986bb2546da773558a4bda8d9170665418a94d88b655a12f1889f2849829a1a9d605884adb5e364ae870373cbee3fbd13", 30993, "6a54c7a7ef0715a055fddf244a9d9842b68c840d1810cafd823001e1ad99b40e27c340a0ae8bff3c1b7de2e05dc3899bc64d8ca5605b38f5c26526aa47024604", 2944, "c698db2513138c2f3f9c0c3d800e492f96e3d32c72e4787c13edc9eb31c389bf42682c87e0a2789c4e8e84581006ebd8a01459c2f347e053448a28fef4682f96"),
        ("3059301306072a8648ce3d020106082a8648ce3d03010703420004815fe56164d655bfcd145bf3a1e94ebfc25459be2ed275acaab1a957d4d27d299531c73932dd8575caf745429ccd63cbc6732ba83b909953ad52f1699e168d81", 29942, "1a6571438a0c28de190c39549b73db20fb2a8f5f9130a2a52415713c95436d57cc3288fed3aa47f7e6b13448f3022283612e987d82a7f0a7af4f88f68a9b0072", 59377, "4cdeb3257aa32a044108801657402be66cf15eb647b77acc8fd805f4eb751df2fba45432e66bedbc3271c3594185d449ef70b7b713f32b5d019dd84e0bce1590"),
        ("3059301306072a8648ce3d020106082a8648ce3d03010703420004d7b9eefc6c393e86750bd113ed6a49d7a27189f99c4cebc88800e378facb0bfc400aafaab4be6b5a14902183af63970911079cac59c490956fd5716d0d4b9611", 11296, "67382d88bb0b77c1a6152085773fc1d4aa5e4502e738904bef75ae4ea6a758bd7c0498b6e74664e7aba02fa40d729a0299332e4c394ec3bbeab2e3222fd54ad0", 11256, "a6808a8114c3f8a6f5d2b5135c932fc2e095f7b57ec482e0cb98cb38955a4efd10c752722b5e9aa3e970995ab1fb1eae2d1f646d20d063503ba74a88677910bb"),
        ("3059301306072a8648ce3d020106082a8648ce3d030107034200041c362a611377ca9333cda87f30bc92a1b2b335c603dfdc73cabbacdc513d243635d9d5cb3184886b6a2a6d30d205b4fd4567fbb84e9ea1eaac2d85c8b24390bd", 54699, "14085bb091396ea1dd0135238a5680d215743a850eebcbb0f1c0afe169b37e6bdd9288648dc9489ac82a4b4219e7efe8594566eaa5b21d3cc8e5a08f866be09e", 62960, "b112b01c2525d94659da1ffc2e3a8f4f740ea3a02ad3be060e11fd88e6f7155126f7ddbdf03ad3efd4c2fed5de6ca3d98e51b2c238029468ab6cf0ac33849ea5"),
        ("3059301306072a8648ce3d020106082a8648ce3d030107034200047bc6d9d34c88948d7f55ebf2c71305428e0b97ed72e799ea61163539563462315ca345f3fa6f4a6c1463cbb97f7c320d57737affb2694081aaa8b808e09c40c5", 22179, "6b586860e22a70e9bcd979482bbfb54489b3ba82675583edad8b4677b1acba78f55d675f824c35da7e31c5ebed7462eed1fbcae0ffc4ab6d7af2c04b9dcb542a", 21624, "705df53999748d77aeb908c34ab909e3edeac7cfa054aee881f684ceaf7ddec00b13e25db82d757403df6bcdbd55376952a7af34bec32fd7a71e2579904151a1"),
    ];

    /// <summary>Ten signed routes (two seqnos of each of five origins), all with <paramref name="metric"/>.</summary>
    public static RouteAdvert[] Routes(ushort metric = 100) =>
    [
        .. Proofs
            .SelectMany(p => new[] { (p.Key, Seqno: p.Seqno1, Signature: p.Signature1), (p.Key, Seqno: p.Seqno2, Signature: p.Signature2) })
            .Select(p => new RouteAdvert(
                RouterIdentity.DeriveAddress(Convert.FromHexString(p.Key)),
                p.Seqno,
                metric,
                new OriginProof(p.Seqno, Convert.FromHexString(p.Key), Convert.FromHexString(p.Signature)))),
    ];
}

/// <summary>The stored proofs still verify, so the corpora built from them hold valid routes.</summary>
[Collection(FuzzCollection.Name)]
public sealed class SignedRoutesTests
{
    [Fact]
    public void StoredProofs_AllVerify()
    {
        var routes = SignedRoutes.Routes();
        var payload = new byte[UpdateMessage.Size(routes)];
        UpdateMessage.Write(payload, 400, routes);
        using var verifier = new OriginVerifier(capacity: 16);
        var read = new List<RouteAdvert>();

        Assert.True(verifier.TryReadUpdate(payload, read, out _));
        Assert.Equal(routes.Length, read.Count);
        Assert.Equal(0, verifier.BadOriginKeys + verifier.BadOriginSignatures);
    }
}
