using System.Runtime.CompilerServices;
using System.Text.Json;
using Router.Identity;
using Router.Routing;
using Router.Sdk;

namespace Router.Tests.Routing;

/// <summary>
/// The checked-in test vector tests/vectors/origin-proof.json, made with the openssl CLI rather
/// than this code: the statement and the signed route entry must be reproduced byte for byte,
/// and the signature (verify-only: ECDSA is randomized) must be accepted by the router's path.
/// </summary>
public sealed class OriginProofVectorTests
{
    private static readonly JsonElement Vector = Load();

    private static string Text(string name) => Vector.GetProperty(name).GetString()!;

    private static byte[] Hex(string name) => Convert.FromHexString(Text(name));

    [Fact]
    public void Vector_KeyAndAddress_Agree()
    {
        using var identity = RouterIdentity.FromPem(Text("privateKeyPkcs8Pem"));

        Assert.Equal(Hex("publicKeySpkiHex"), identity.PublicKey);
        Assert.Equal(PublicKeys.SpkiLength, identity.PublicKey.Length);
        Assert.Equal(RouterAddress.Parse(Text("address")), identity.Address);
    }

    [Fact]
    public void WriteStatement_VectorInputs_GivesTheVectorsBytes()
    {
        var statement = new byte[OriginProof.StatementLength(Hex("prefixBlockHex").Length)];
        var written = OriginProof.WriteStatement(statement, RouterAddress.Parse(Text("address")), Vector.GetProperty("seqno").GetUInt16(), Hex("prefixBlockHex"));

        Assert.Equal(statement.Length, written);
        Assert.Equal(Text("statementHex"), Convert.ToHexStringLower(statement));
    }

    [Fact]
    public void Write_VectorProof_GivesTheVectorsEntry()
    {
        var seqno = Vector.GetProperty("seqno").GetUInt16();
        var route = new RouteAdvert(RouterAddress.Parse(Text("address")), seqno, Vector.GetProperty("metric").GetUInt16(), new OriginProof(seqno, Hex("publicKeySpkiHex"), Hex("signatureHex"), Hex("prefixBlockHex")));
        var payload = new byte[UpdateMessage.Size([route])];
        UpdateMessage.Write(payload, Vector.GetProperty("updateIntervalCentiseconds").GetUInt16(), [route]);

        Assert.Equal(Text("updatePayloadHex"), Convert.ToHexStringLower(payload));
        Assert.Equal(Text("signedRouteEntryHex"), Convert.ToHexStringLower(payload.AsSpan(UpdateMessage.HeaderSize)));
    }

    [Fact]
    public void TryReadUpdate_VectorPayload_IsVerifiedAndAccepted()
    {
        using var verifier = new OriginVerifier(4);
        var routes = new List<RouteAdvert>();

        Assert.True(verifier.TryReadUpdate(Hex("updatePayloadHex"), routes, out _));
        var route = Assert.Single(routes);
        Assert.Equal(RouterAddress.Parse(Text("address")), route.Origin);
        Assert.Equal(Vector.GetProperty("seqno").GetUInt16(), route.Seqno);
        Assert.Equal(Hex("signatureHex"), route.Proof!.Signature);
        Assert.Equal(1, verifier.Verifications);

        // One bit of the signature flipped: rejected.
        var tampered = Hex("updatePayloadHex");
        tampered[^2] ^= 0x01;
        using var fresh = new OriginVerifier(4);
        Assert.True(fresh.TryReadUpdate(tampered, routes, out _));
        Assert.Empty(routes);
        Assert.Equal(1, fresh.BadOriginSignatures);
    }

    /// <summary>
    /// Reads the vector from the repository (found above the test binaries, or above this
    /// source file when the build output lives elsewhere, e.g. with --artifacts-path).
    /// </summary>
    private static JsonElement Load([CallerFilePath] string sourceFile = "")
    {
        const string relative = "tests/vectors/origin-proof.json";
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var path = Path.Combine(dir.FullName, relative);
                if (File.Exists(path))
                {
                    using var document = JsonDocument.Parse(File.ReadAllText(path));
                    return document.RootElement.Clone();
                }
            }
        }

        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory} or {sourceFile}");
    }
}
