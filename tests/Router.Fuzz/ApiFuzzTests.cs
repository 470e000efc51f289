using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Router.Api;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// What the local API reads from clients, and what the CLI reads back from the API.
/// <para>
/// Clients send the API only query parameters (<c>to</c>, <c>hopLimit</c>, <c>timeoutMs</c>,
/// <c>size</c>) and, for <c>POST /v1/messages</c>, a body the router passes on as opaque bytes;
/// no endpoint parses a JSON body. The query target runs a mutated query string through
/// ASP.NET's own query parser (<see cref="QueryFeature"/>, what <c>HttpRequest.Query</c> uses), a
/// model of minimal-API parameter binding (below), and then <see cref="ApiRequests"/>, the exact
/// functions the endpoints call.
/// </para>
/// The JSON target reads mutated API documents with the source-generated <see cref="ApiJson"/>
/// metadata, as the CLI does; the only exception allowed is <see cref="JsonException"/>.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class ApiFuzzTests(ITestOutputHelper output)
{
    private const byte DefaultHopLimit = 64;

    private long _nonFiniteNumbers;
    private long _skipped;

    private static readonly JsonTypeInfo[] Documents =
    [
        ApiJson.Default.StatusResponse,
        ApiJson.Default.IReadOnlyListPeerInfo,
        ApiJson.Default.IReadOnlyListRouteInfo,
        ApiJson.Default.SendResponse,
        ApiJson.Default.EchoResponse,
        ApiJson.Default.IReadOnlyListEchoResponse,
        ApiJson.Default.ErrorResponse,
        ApiJson.Default.MessageRecord,
    ];

    private static readonly JsonTypeInfo[] ListDocuments = [.. Documents.Where(d => d.Kind == JsonTypeInfoKind.Enumerable)];

    private static readonly JsonTypeInfo[] ObjectDocuments = [.. Documents.Where(d => d.Kind != JsonTypeInfoKind.Enumerable)];

    [Fact]
    public void QueryParameters_MillionMutatedQueries_ParseAsTheEndpointsDoWithoutThrowing()
    {
        var result = Fuzzer.Run("api-query", QueryCorpus(), seed: 0xA91, FuzzTargets.Iterations, QueryTarget, new FuzzOptions { MaxLength = 256, Dictionary = QueryTokens() });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
    }

    [Fact]
    public void JsonDocuments_MillionMutatedDocuments_ThrowOnlyJsonExceptionAndRoundTrip()
    {
        var result = Fuzzer.Run("api-json", JsonCorpus(), seed: 0x750, FuzzTargets.Iterations, JsonTarget, new FuzzOptions { MaxLength = 1024, Dictionary = JsonTokens() });

        output.WriteLine(result.ToString());
        output.WriteLine($"documents with a number beyond double's range, which read but cannot be written back: {_nonFiniteNumbers:N0}");
        FuzzTargets.AssertSound(result);
    }

    private static bool QueryTarget(ReadOnlySpan<byte> input)
    {
        // Kestrel hands over the raw query, '?' included. These inputs also hold bytes it refuses
        // in a request line (control characters, for one): a superset of what can arrive.
        var features = new FeatureCollection();
        features.Set<IHttpRequestFeature>(new HttpRequestFeature { QueryString = "?" + Fuzzer.Utf8(input) });
        var query = new QueryFeature(features).Query;
        var to = Bind(query["to"]);

        // POST /v1/messages binds only `to`.
        var sent = ApiRequests.TryParseSendTarget(to, out var destination, out var flood, out var sendError);
        if (!sent)
        {
            TextFuzzTests.CheckAddress(to, false, default);
            if (to is not null && !sendError!.Contains($"'{to}'", StringComparison.Ordinal))
            {
                Check.Fail($"The 400 for to='{to}' does not quote it: {sendError}");
            }
        }
        else
        {
            if (flood != string.Equals(to, "all", StringComparison.OrdinalIgnoreCase) || (flood && !destination.IsNone))
            {
                Check.Fail($"to='{to}' gave flood {flood}, destination {destination}.");
            }

            if (!flood)
            {
                TextFuzzTests.CheckAddress(to, true, destination);
            }
        }

        // POST /v1/echo: a number that does not bind is a 400 from ASP.NET before the endpoint runs.
        if (!TryBind(query["hopLimit"], out var hopLimit) || !TryBind(query["timeoutMs"], out var timeoutMs) || !TryBind(query["size"], out var size))
        {
            return sent;
        }

        var echoed = ApiRequests.TryParseEcho(to, hopLimit, timeoutMs, size, DefaultHopLimit, out var echo, out var echoError);
        if (echoed)
        {
            TextFuzzTests.CheckAddress(to, true, echo.Destination);
            if (echo.HopLimit != (hopLimit ?? DefaultHopLimit) || echo.HopLimit == 0 || echo.Size != (size ?? 0) || echo.Size is < 0 or > 60_000 ||
                echo.Timeout != TimeSpan.FromMilliseconds(timeoutMs ?? 2000) || echo.Timeout <= TimeSpan.Zero || echo.Timeout > TimeSpan.FromMinutes(1))
            {
                Check.Fail($"hopLimit={hopLimit} timeoutMs={timeoutMs} size={size} were accepted as {echo}.");
            }
        }
        else if (string.IsNullOrEmpty(echoError))
        {
            Check.Fail("TryParseEcho failed without a message.");
        }

        return sent || echoed;
    }

    /// <summary>
    /// Minimal APIs bind a <c>string?</c> query parameter through <see cref="StringValues"/>'s
    /// conversion to string: null when absent, the values joined with commas when repeated.
    /// </summary>
    private static string? Bind(StringValues values) => values;

    /// <summary>
    /// A model of how minimal APIs bind an <c>int?</c> query parameter: absent or empty is null,
    /// otherwise <c>int.TryParse(value, InvariantCulture)</c> must succeed (else 400).
    /// </summary>
    private static bool TryBind(StringValues values, out int? number)
    {
        number = null;
        string? text = values;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
        {
            return false;
        }

        number = parsed;
        return true;
    }

    /// <summary>
    /// Reads the input as every document type. Known finding, allowed here so the rest keeps being
    /// fuzzed: System.Text.Json reads a number beyond double's range (<c>1e999</c>) as infinity,
    /// which it then refuses to write (<see cref="ArgumentException"/>), so a CLI command that
    /// reads a document and prints it with <c>--json</c> would fail on such a document; the
    /// test reports how often it happened (<see cref="_nonFiniteNumbers"/>).
    /// </summary>
    private bool JsonTarget(ReadOnlySpan<byte> input)
    {
        // Most mutated documents are not JSON at all, and having the serializer reject each costs
        // exceptions that would dominate the run. JsonShape skips them without one; every 64th
        // it skips is still given to the reader, which must reject it too.
        if (!JsonShape.MayBeJson(input))
        {
            if (++_skipped % 64 == 0 && IsJson(input, out _))
            {
                Check.Fail("JsonShape rejected a document that Utf8JsonReader accepts.");
            }

            return false;
        }

        // The reader the serializer uses (same default options): it rejects what JsonShape lets through.
        if (!IsJson(input, out var nonFinite))
        {
            return false;
        }

        // An array is read only as the list documents, an object only as the others: the rest
        // would fail on the first token, each with an exception. A bare value fails (or reads
        // as null) the same way for every type, so one is tried.
        var first = input.TrimStart(" \t\r\n"u8);
        ReadOnlySpan<JsonTypeInfo> documents = first.IsEmpty ? Documents.AsSpan(0, 1)
            : first[0] == '[' ? ListDocuments
            : first[0] == '{' ? ObjectDocuments
            : Documents.AsSpan(0, 1);
        var any = false;
        foreach (var document in documents)
        {
            object? value;
            try
            {
                value = JsonSerializer.Deserialize(input, document);
            }
            catch (JsonException)
            {
                continue;
            }

            any = true;
            if (value is null)
            {
                continue;
            }

            // Printing what was read and reading it again must be stable (router status --json prints what it read).
            byte[] printed;
            try
            {
                printed = JsonSerializer.SerializeToUtf8Bytes(value, document);
            }
            catch (ArgumentException) when (nonFinite)
            {
                _nonFiniteNumbers++;
                continue;
            }

            var reprinted = JsonSerializer.SerializeToUtf8Bytes(JsonSerializer.Deserialize(printed, document), document);
            if (!printed.AsSpan().SequenceEqual(reprinted))
            {
                Check.Fail($"{document.Type.Name}: {Encoding.UTF8.GetString(printed)} reprinted as {Encoding.UTF8.GetString(reprinted)}.");
            }
        }

        return any;
    }

    /// <summary>Whether <paramref name="input"/> is one JSON value, and whether it holds a number too large for a finite double.</summary>
    private static bool IsJson(ReadOnlySpan<byte> input, out bool nonFinite)
    {
        nonFinite = false;
        var reader = new Utf8JsonReader(input);
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out var number) && !double.IsFinite(number))
                {
                    nonFinite = true;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static List<byte[]> QueryCorpus()
    {
        var random = new Random(6);
        var a = FuzzTargets.RandomAddress(random).ToString();
        var b = FuzzTargets.RandomAddress(random).ToString();
        return
        [
            .. new[]
            {
                $"to={a}", "to=all", "to=ALL", $"to={a}&hopLimit=1&timeoutMs=60000&size=0", $"hopLimit=255&to={b.Replace("-", string.Empty, StringComparison.Ordinal).ToUpperInvariant()}&size=60000",
                $"to=%20{a}%20", $"to={a}&to={b}", $"to={a}&hopLimit=&size=", $"to={a}&timeoutMs=2000&hopLimit=64&size=1400", $"to={Uri.EscapeDataString(b)}&size=-1",
            }.Select(Encoding.UTF8.GetBytes),
        ];
    }

    private static byte[][] QueryTokens() =>
        [
            .. new[]
            {
                "&", "=", "&&", "==", "%", "%2", "%20", "%2D", "%2d", "%3D", "%26", "%00", "%FF", "%C3%A9", "%E2%80%A8", "+", "#", "?",
                "to=", "hopLimit=", "timeoutMs=", "size=", "all", "-", "0", "1", "255", "256", "-1", "60000", "60001",
                "2147483647", "2147483648", "-2147483648", " ", "1e3", "0x10", "\u0661",
            }.Select(Encoding.UTF8.GetBytes),
        ];

    /// <summary>
    /// One of each document the API serves, as the router serializes them. Written as JSON and
    /// put through the serializer (read, then written) rather than built with the records'
    /// constructors, so a field added to a document does not break this corpus; it is then
    /// simply absent from it.
    /// </summary>
    private static List<byte[]> JsonCorpus()
    {
        var random = new Random(7);
        string Address() => FuzzTargets.RandomAddress(random).ToString();
        var payload = new byte[40];
        random.NextBytes(payload);
        var peers = $$"""
            [{"address":"{{Address()}}","netmod":"inet","state":"up","endpoint":"10.0.0.2:7000","inbound":false,"since":"2025-01-02T03:04:05+00:00","lastError":null},
             {"address":null,"netmod":"udp","state":"connecting","endpoint":"[::1]:7001","inbound":true,"since":"2025-01-02T03:04:10.5+01:00","lastError":"connection refused"}]
            """;
        var echoes = $$"""
            [{"result":"reply","from":"{{Address()}}","rttMs":0.25,"hopLimit":64},{"result":"hopLimitExceeded","from":"{{Address()}}","rttMs":1.5,"hopLimit":1},
             {"result":"timeout","from":null,"rttMs":2000,"hopLimit":3}]
            """;
        var documents = new (string Json, JsonTypeInfo Type)[]
        {
            ($$"""
                {"address":"{{Address()}}","version":"0.1.0","sdkVersion":"1.1","startedAt":"2025-01-02T03:04:05+00:00","uptimeSeconds":12.5,
                 "netmods":[{"name":"inet","version":"0.1.0","state":"running","maxFrameSize":65536,"path":"/opt/router/plugins/inet/Inet.dll","error":null},
                            {"name":"udp","version":"0.1.0","state":"failed","maxFrameSize":1400,"path":"/x","error":"bind: address in use"}],
                 "peers":{{peers}},
                 "counters":{"framesReceived":10,"framesForwarded":5,"framesDeliveredLocally":3,"framesDropped":{"noRoute":2,"malformed":1},
                             "messagesDelivered":3,"messagesDroppedUndelivered":0,"messagesWaiting":0,"reassemblyPending":1,"reassemblyBufferedBytes":4096,
                             "reassemblyTimedOut":0,"reassemblyOverLimit":0,"routes":7} }
                """, ApiJson.Default.StatusResponse),
            (peers, ApiJson.Default.IReadOnlyListPeerInfo),
            ($$"""[{"destination":"{{Address()}}","nextHop":"{{Address()}}","netmod":"inet","metric":16,"seqno":1234,"ageSeconds":1.5}]""", ApiJson.Default.IReadOnlyListRouteInfo),
            ("""{"to":"all","messageId":4294967295,"bytes":1000000}""", ApiJson.Default.SendResponse),
            ($$"""{"result":"reply","from":"{{Address()}}","rttMs":0.25,"hopLimit":64}""", ApiJson.Default.EchoResponse),
            (echoes, ApiJson.Default.IReadOnlyListEchoResponse),
            ("""{"error":"no route to 1234: \"quoted\" \\ \u00e9"}""", ApiJson.Default.ErrorResponse),
            ($$"""{"from":"{{Address()}}","messageId":42,"receivedAt":"2025-01-02T03:04:05.1234567+00:00","length":40,"payload":"{{Convert.ToBase64String(payload)}}"}""", ApiJson.Default.MessageRecord),
        };
        return [.. documents.Select(d => JsonSerializer.SerializeToUtf8Bytes(JsonSerializer.Deserialize(d.Json, d.Type), d.Type))];
    }

    private static byte[][] JsonTokens() =>
        [
            .. new[]
            {
                "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "false", "0", "-0", "-1", "1e308", "1e999", "4294967296",
                "9223372036854775808", "0.5", "\"\"", "{}", "[]", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"AAAA\"", "\"=\"",
                "\"2025-13-45T25:61:61Z\"", "\"9999-12-31T23:59:59.9999999+14:00\"", "/*", "*/", "\u00e9", "\"address\":", "\"payload\":",
                "\"framesDropped\":", "\"netmods\":", "\"peers\":", "\"counters\":",
            }.Select(Encoding.UTF8.GetBytes),
        ];
}
