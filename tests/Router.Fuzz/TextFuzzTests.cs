using System.Text;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// The SDK's text parsers, which read what users and configuration files write:
/// <see cref="RouterAddress.TryParse"/> (API <c>to</c>, CLI arguments) and
/// <see cref="HostEndpoint.TryParse"/> (netmod peers and listen addresses). Inputs are the
/// mutated bytes read as UTF-8. Accepted text must print and parse back to the same value.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class TextFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void RouterAddress_MillionMutatedTexts_MatchesTheDocumentedSyntaxAndRoundTrips()
    {
        var result = Fuzzer.Run("router-address", AddressCorpus(), seed: 0xADD2, FuzzTargets.Iterations, AddressTarget, new FuzzOptions { MaxLength = 160, Dictionary = AddressTokens() });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
    }

    [Fact]
    public void HostEndpoint_MillionMutatedTexts_RoundTripsWhatItAccepts()
    {
        var result = Fuzzer.Run("host-endpoint", EndpointCorpus(), seed: 0x4057, FuzzTargets.Iterations, EndpointTarget, new FuzzOptions { MaxLength = 96, Dictionary = EndpointTokens() });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
    }

    /// <summary>
    /// docs/wire-format.md, "Addresses": 64 hex digits, dashes anywhere, either case; the parser
    /// also ignores surrounding white space. Returns the digits in lower case, or null.
    /// </summary>
    internal static string? DocumentedAddressDigits(string text)
    {
        var digits = new StringBuilder(64);
        foreach (var ch in text.Trim())
        {
            if (ch == '-')
            {
                continue;
            }

            if (!char.IsAsciiHexDigit(ch))
            {
                return null;
            }

            digits.Append(char.ToLowerInvariant(ch));
        }

        return digits.Length == 64 ? digits.ToString() : null;
    }

    /// <summary>Checks what <see cref="RouterAddress.TryParse"/> made of <paramref name="text"/> against the documented syntax and the printed form.</summary>
    internal static void CheckAddress(string? text, bool accepted, RouterAddress address)
    {
        var digits = text is null ? null : DocumentedAddressDigits(text);
        if (accepted != digits is not null)
        {
            Check.Fail($"RouterAddress.TryParse('{text}') said {accepted}; the documented syntax says {digits is not null}.");
        }

        if (accepted)
        {
            var printed = address.ToString();
            if (printed.Replace("-", string.Empty, StringComparison.Ordinal) != digits || !RouterAddress.TryParse(printed, out var again) || again != address)
            {
                Check.Fail($"'{text}' parsed to {printed}, which does not round-trip.");
            }
        }
    }

    private static bool AddressTarget(ReadOnlySpan<byte> input)
    {
        var text = Fuzzer.Utf8(input);
        var accepted = RouterAddress.TryParse(text, out var address);
        CheckAddress(text, accepted, address);
        return accepted;
    }

    private static bool EndpointTarget(ReadOnlySpan<byte> input)
    {
        var text = Fuzzer.Utf8(input);
        var any = false;
        foreach (var allowPortZero in (ReadOnlySpan<bool>)[false, true])
        {
            if (!HostEndpoint.TryParse(text, allowPortZero, out var endpoint, out var error))
            {
                if (string.IsNullOrEmpty(error))
                {
                    Check.Fail($"HostEndpoint.TryParse('{text}') failed without saying why.");
                }

                continue;
            }

            any = true;
            if (endpoint.Port is < 0 or > 65535 || (endpoint.Port == 0 && !allowPortZero) || endpoint.Host.Length == 0)
            {
                Check.Fail($"'{text}' was accepted as host '{endpoint.Host}', port {endpoint.Port} (port zero allowed: {allowPortZero}).");
            }

            var printed = endpoint.ToString();
            if (!HostEndpoint.TryParse(printed, allowPortZero, out var again, out var againError) || again != endpoint)
            {
                Check.Fail($"'{text}' was accepted as {endpoint}, which parses back as {(object?)again ?? againError}.");
            }

            // A literal IP host must convert to a socket endpoint (what listeners bind to).
            if (endpoint.Address is not null && endpoint.ToIPEndPoint().Port != endpoint.Port)
            {
                Check.Fail($"'{text}': ToIPEndPoint changed the port.");
            }
        }

        return any;
    }

    private static List<byte[]> AddressCorpus()
    {
        var random = new Random(32);
        var corpus = new List<byte[]>();
        for (var i = 0; i < 6; i++)
        {
            var text = FuzzTargets.RandomAddress(random).ToString();
            corpus.Add(Encoding.UTF8.GetBytes(text));
            corpus.Add(Encoding.UTF8.GetBytes(text.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant()));
        }

        corpus.Add(Encoding.UTF8.GetBytes($"  {FuzzTargets.RandomAddress(random)}\t\n"));
        corpus.Add(Encoding.UTF8.GetBytes("0000000000000000000000000000000000000000000000000000000000000000"));
        corpus.Add("all"u8.ToArray());
        return corpus;
    }

    private static byte[][] AddressTokens() =>
        [.. new[] { "-", "--", " ", "\t", "\u00a0", "\u2028", "\u3000", "\ufeff", "0", "9", "a", "f", "A", "F", "g", "G", "x", "0x", "\uff10", "\u0660", "all" }.Select(Encoding.UTF8.GetBytes)];

    private static List<byte[]> EndpointCorpus() =>
    [
        .. new[]
        {
            "example.com:80", "127.0.0.1:9000", "[::1]:443", "[fe80::1%2]:1", "localhost:0", "a-b.example:65535",
            " router-1.mesh.local:7000 ", "[2001:db8::8a2e:370:7334]:8080", "10.0.0.255:1", "[::ffff:192.0.2.1]:12",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    private static byte[][] EndpointTokens() =>
        [
            .. new[]
            {
                ":", "::", "[", "]", "]:", "%", "%25", ".", "..", "-", "_", " ", "\t", "0", "00", "1", "65535", "65536", "99999",
                "4294967296", "-1", "+1", "0x7f", "255.255.255.255", "::ffff:", "xn--", "localhost", "\u00e9", "\u0661", "@", "/", "*",
            }.Select(Encoding.UTF8.GetBytes),
        ];
}
