using Router.Sdk;
using Router.Security.Links;

namespace Router.Tests.Security.Links;

/// <summary>
/// tests/vectors/link-handshake.json, computed outside .NET (Python hashlib/hmac and the
/// cryptography package): the link key schedule and the control-frame seal, byte for byte.
/// </summary>
public sealed class LinkVectorTests
{
    private static readonly System.Text.Json.JsonElement Vector = TestVectors.Load("link-handshake.json");

    [Fact]
    public void NetworkKey_Transcript_AndKeys_MatchTheVector()
    {
        var low = RouterAddress.Read(Vector.Hex("lowAddress"));
        var high = RouterAddress.Read(Vector.Hex("highAddress"));
        Assert.Equal(Vector.Hex("networkKey"), LinkHandshake.NetworkKey(Vector.GetProperty("networkSecret").GetString()));

        // Either side computes the same transcript.
        var transcript = LinkHandshake.Transcript(low, high, Vector.Hex("lowEphemeral"), Vector.Hex("highEphemeral"));
        Assert.Equal(Vector.Hex("transcript"), transcript);
        Assert.Equal(transcript, LinkHandshake.Transcript(high, low, Vector.Hex("highEphemeral"), Vector.Hex("lowEphemeral")));

        var (lowMaterial, lowConfirmation) = LinkHandshake.DeriveMaterial(Vector.Hex("ecdhSecret"), Vector.Hex("networkKey"), transcript, low, high);
        Assert.Equal(Vector.Hex("keyLowToHigh"), lowMaterial[..32]);
        Assert.Equal(Vector.Hex("keyHighToLow"), lowMaterial[32..64]);
        Assert.Equal(Vector.Hex("confirmationByHigh"), lowMaterial[64..]);
        Assert.Equal(Vector.Hex("confirmationByLow"), lowConfirmation);

        var (highMaterial, highConfirmation) = LinkHandshake.DeriveMaterial(Vector.Hex("ecdhSecret"), Vector.Hex("networkKey"), transcript, high, low);
        Assert.Equal(Vector.Hex("keyHighToLow"), highMaterial[..32]);
        Assert.Equal(Vector.Hex("keyLowToHigh"), highMaterial[32..64]);
        Assert.Equal(Vector.Hex("confirmationByHigh"), highConfirmation);
    }

    [Fact]
    public void Seal_MatchesTheVector()
    {
        var seal = Vector.GetProperty("seal");
        var key = Vector.Hex("keyLowToHigh");
        var frame = seal.Hex("frame");
        var counter = seal.GetProperty("counter").GetInt32();
        using var session = new LinkSession(new LinkKeys(key, key));
        var buffer = new byte[frame.Length + LinkSession.TrailerSize];
        for (var i = 0; i < counter; i++)
        {
            frame.CopyTo(buffer, 0);
            session.Seal(buffer, frame.Length); // counters start at 1: the vector's is the 7th frame
        }

        Assert.Equal(seal.Hex("trailer"), buffer[frame.Length..]);
        Assert.Equal(SealFailure.None, session.TryOpen(buffer, out var length));
        Assert.Equal(frame.Length, length);
    }
}
