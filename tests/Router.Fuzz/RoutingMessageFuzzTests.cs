using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// The routing payloads (docs/routing.md, "Messages") on a million mutated inputs each: hello,
/// update and seqno request. Whatever a reader accepts is written back with the type's own
/// writer and must read back the same; fixed-size messages must also give the input's bytes.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class RoutingMessageFuzzTests(ITestOutputHelper output)
{
    private const int MaxUpdateLength = 1400;

    // Sized for the longest input up front, so a list growing is not mistaken for the parser allocating.
    private readonly List<RouteAdvert> _routes = new(MaxUpdateLength / UpdateMessage.RetractionEntrySize + 1);
    private readonly byte[] _rewritten = new byte[MaxUpdateLength];

    [Fact]
    public void Hello_MillionMutatedPayloads_AcceptsWhatTheFormatAllowsAndRoundTrips()
    {
        var result = Fuzzer.Run("hello", HelloCorpus(), seed: 0x4E110, FuzzTargets.Iterations, HelloTarget, new FuzzOptions { MaxLength = 64 });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
        FuzzTargets.AssertAllocatesNothing(result);
    }

    [Fact]
    public void Update_MillionMutatedPayloads_EntriesMatchTheFormatAndRoundTrip()
    {
        var corpus = UpdateCorpus();
        var options = new FuzzOptions { MaxLength = MaxUpdateLength };
        var result = Fuzzer.Run("update", corpus, seed: 0x0BDA7E, FuzzTargets.Iterations, input => UpdateTarget(input, roundTrip: true), options);
        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);

        // Reading (framing check and entry walk) allocates nothing; only the round trip's proofs do.
        var reading = Fuzzer.Run("update-read", corpus, seed: 0x0BDA7F, FuzzTargets.Iterations / 5, input => UpdateTarget(input, roundTrip: false), options);
        output.WriteLine(reading.ToString());
        FuzzTargets.AssertAllocatesNothing(reading);
    }

    [Fact]
    public void SeqnoRequest_MillionMutatedPayloads_AcceptsWhatTheFormatAllowsAndRoundTrips()
    {
        var result = Fuzzer.Run("seqno-request", SeqnoCorpus(), seed: 0x5E9, FuzzTargets.Iterations, SeqnoTarget, new FuzzOptions { MaxLength = 96 });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
        FuzzTargets.AssertAllocatesNothing(result);
    }

    private static bool HelloTarget(ReadOnlySpan<byte> payload)
    {
        var accepted = Hello.TryRead(payload, out var hello);

        // 16 bytes or more (extra bytes are room for later fields), and a non-zero interval.
        var expected = payload.Length >= Hello.Size && BinaryPrimitives.ReadUInt16BigEndian(payload[2..]) != 0;
        if (accepted != expected)
        {
            Check.Fail($"Hello.TryRead said {accepted}; the format says {expected}.");
        }

        if (accepted)
        {
            Span<byte> written = stackalloc byte[Hello.Size];
            hello.Write(written);
            if (!written.SequenceEqual(payload[..Hello.Size]))
            {
                Check.Fail($"Writing the accepted hello gave {Convert.ToHexStringLower(written)}.");
            }

            if (!Hello.TryRead(written, out var again) || again != hello)
            {
                Check.Fail($"The rewritten hello read back as {again}, not {hello}.");
            }
        }

        return accepted;
    }

    /// <summary>
    /// Reads an update and walks its entries beside an independent walk of the format in the
    /// comment on <see cref="UpdateMessage"/> (type 1 retraction of length 36; type 2 signed route
    /// longer than <see cref="UpdateMessage.SignedRouteFixedLength"/>; type 3 route by proof
    /// reference of length 44; other types skipped).
    /// With <paramref name="roundTrip"/>, what the writer can express (retractions and signed
    /// routes; not the unsigned routes receivers reject) is written back and must read back the
    /// same; that allocates (a proof holds arrays), so the allocation run leaves it out.
    /// </summary>
    private bool UpdateTarget(ReadOnlySpan<byte> payload, bool roundTrip)
    {
        var accepted = UpdateMessage.TryRead(payload, out var interval, out var entries);
        var expected = DocumentedUpdateFraming(payload);
        if (accepted != expected)
        {
            Check.Fail($"UpdateMessage.TryRead said {accepted}; the format says {expected}.");
        }

        if (!accepted)
        {
            return false;
        }

        if (interval == 0)
        {
            Check.Fail("An update with a zero interval was accepted.");
        }

        _routes.Clear();
        var position = UpdateMessage.HeaderSize;
        var writable = true; // every entry is one the writer produces byte for byte
        foreach (var entry in entries)
        {
            // The next entry of a known type in the independent walk must be this one.
            int type, length;
            while (true)
            {
                if (position >= payload.Length)
                {
                    Check.Fail("The enumerator returned more entries than the payload holds.");
                }

                type = payload[position];
                length = payload[position + 1];
                position += 2 + length;
                if (type is UpdateMessage.RetractionEntryType or UpdateMessage.SignedRouteEntryType or UpdateMessage.ReferenceEntryType)
                {
                    break;
                }

                writable = false;
            }

            var value = payload.Slice(position - length, length);
            var metric = BinaryPrimitives.ReadUInt16BigEndian(value[34..]);
            var kind = metric == Metric.Infinity ? UpdateEntryKind.Retraction
                : type == UpdateMessage.RetractionEntryType ? UpdateEntryKind.Unsigned
                : type == UpdateMessage.ReferenceEntryType ? UpdateEntryKind.Reference : UpdateEntryKind.Signed;
            if (entry.Kind != kind || entry.Origin != RouterAddress.Read(value[..RouterAddress.Length]) || entry.Seqno != BinaryPrimitives.ReadUInt16BigEndian(value[32..]) || entry.Metric != metric)
            {
                Check.Fail($"Entry at {position - length - 2} read as {entry.Kind} {entry.Origin} seqno {entry.Seqno} metric {entry.Metric}; its bytes are {Convert.ToHexStringLower(value)}.");
            }

            var signed = kind == UpdateEntryKind.Signed;
            if (!entry.PublicKey.SequenceEqual(signed ? value.Slice(36, PublicKeys.SpkiLength) : default) ||
                !entry.Signature.SequenceEqual(signed ? value.Slice(36 + PublicKeys.SpkiLength, PublicKeys.SignatureLength) : default) ||
                !entry.PrefixBlock.SequenceEqual(signed ? value[UpdateMessage.SignedRouteFixedLength..] : default))
            {
                Check.Fail($"Entry at {position - length - 2}: key, signature or prefix block are not the entry's bytes.");
            }

            if (!entry.ProofReference.SequenceEqual(kind == UpdateEntryKind.Reference ? value[36..] : default))
            {
                Check.Fail($"Entry at {position - length - 2}: the proof reference is not the entry's bytes.");
            }

            // References and unsigned routes cannot be written back on their own (a reference needs the proof it names).
            writable &= kind is not (UpdateEntryKind.Unsigned or UpdateEntryKind.Reference) && (kind == UpdateEntryKind.Signed || type == UpdateMessage.RetractionEntryType);
            if (roundTrip && kind is not (UpdateEntryKind.Unsigned or UpdateEntryKind.Reference))
            {
                _routes.Add(new RouteAdvert(entry.Origin, entry.Seqno, entry.Metric, signed
                    ? new OriginProof(entry.Seqno, entry.PublicKey.ToArray(), entry.Signature.ToArray(), entry.PrefixBlock.ToArray())
                    : null));
            }
        }

        // Whatever follows the last route entry must be entries of unknown types only.
        while (position < payload.Length)
        {
            if (payload[position] is UpdateMessage.RetractionEntryType or UpdateMessage.SignedRouteEntryType or UpdateMessage.ReferenceEntryType)
            {
                Check.Fail($"The enumerator stopped before the entry at {position}.");
            }

            writable = false;
            position += 2 + payload[position + 1];
        }

        if (roundTrip)
        {
            CheckUpdateRoundTrip(payload, interval, writable);
        }

        return true;
    }

    private void CheckUpdateRoundTrip(ReadOnlySpan<byte> payload, ushort interval, bool writable)
    {
        var routes = CollectionsMarshal.AsSpan(_routes);
        var length = UpdateMessage.Write(_rewritten, interval, routes);
        if (length != UpdateMessage.Size(routes))
        {
            Check.Fail($"Write returned {length} for {routes.Length} routes; Size says {UpdateMessage.Size(routes)}.");
        }

        var rewritten = _rewritten.AsSpan(0, length);
        if (writable && !rewritten.SequenceEqual(payload))
        {
            Check.Fail($"Writing the accepted routes gave {Convert.ToHexStringLower(rewritten)}.");
        }

        if (!UpdateMessage.TryRead(rewritten, out var intervalAgain, out var again) || intervalAgain != interval)
        {
            Check.Fail($"The rewritten update ({Convert.ToHexStringLower(rewritten)}) is not read back.");
        }

        var index = 0;
        foreach (var entry in again)
        {
            if (index >= routes.Length)
            {
                Check.Fail("The rewritten update holds more routes than were written.");
            }

            var route = routes[index++];
            var proof = route.Proof;
            if (entry.Origin != route.Origin || entry.Seqno != route.Seqno || entry.Metric != route.Metric ||
                entry.Kind != (proof is null ? UpdateEntryKind.Retraction : UpdateEntryKind.Signed) ||
                (proof is not null && (!entry.PublicKey.SequenceEqual(proof.PublicKey) || !proof.Matches(entry.Signature, entry.PrefixBlock))))
            {
                Check.Fail($"Route {index - 1} of the rewritten update reads back as {entry.Kind} {entry.Origin} seqno {entry.Seqno} metric {entry.Metric}, not {route}.");
            }
        }

        if (index != routes.Length)
        {
            Check.Fail($"The rewritten update reads back {index} of {routes.Length} routes.");
        }
    }

    /// <summary>The entry framing of the comment on <see cref="UpdateMessage"/>, walked independently.</summary>
    private static bool DocumentedUpdateFraming(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(payload) == 0)
        {
            return false;
        }

        var rest = payload[2..];
        while (!rest.IsEmpty)
        {
            if (rest.Length < 2 || rest.Length < 2 + rest[1])
            {
                return false;
            }

            var (type, length) = (rest[0], rest[1]);
            if ((type == 1 && length != 36) || (type == 2 && length < 36 + 91 + 64 + 1) || (type == 3 && length != 36 + 8))
            {
                return false;
            }

            rest = rest[(2 + length)..];
        }

        return true;
    }

    private static bool SeqnoTarget(ReadOnlySpan<byte> payload)
    {
        var accepted = SeqnoRequest.TryRead(payload, out var request);
        if (accepted != payload.Length >= SeqnoRequest.Size)
        {
            Check.Fail($"SeqnoRequest.TryRead said {accepted} for {payload.Length} bytes.");
        }

        if (accepted)
        {
            Span<byte> written = stackalloc byte[SeqnoRequest.Size];
            request.Write(written);
            if (!written.SequenceEqual(payload[..SeqnoRequest.Size]))
            {
                Check.Fail($"Writing the accepted request gave {Convert.ToHexStringLower(written)}.");
            }

            if (!SeqnoRequest.TryRead(written, out var again) || again != request)
            {
                Check.Fail($"The rewritten request read back as {again}, not {request}.");
            }
        }

        return accepted;
    }

    private static List<byte[]> HelloCorpus()
    {
        var random = new Random(2);
        var corpus = new List<byte[]>();
        foreach (var (seqno, interval, timestamp, echo, delay) in new (ushort, ushort, uint, uint, uint)[]
        {
            (0, 100, 0, 0, 0), (1, 100, 1_000_000, 0, 0), (0xFFFF, 1, uint.MaxValue, uint.MaxValue, uint.MaxValue), (513, 50, 123_456, 120_000, 3_000),
        })
        {
            var payload = new byte[Hello.Size];
            new Hello(seqno, interval, timestamp, echo, delay).Write(payload);
            corpus.Add(payload);
        }

        for (var i = 0; i < 8; i++)
        {
            var payload = new byte[Hello.Size];
            new Hello((ushort)random.Next(0x10000), (ushort)random.Next(1, 0x10000), (uint)random.NextInt64(0, 1L << 32), (uint)random.NextInt64(0, 1L << 32), (uint)random.Next()).Write(payload);
            corpus.Add(payload);
        }

        return corpus;
    }

    /// <summary>
    /// Updates from the writer: 0 to 5 routes, signed (<see cref="SignedRoutes"/>) or
    /// retractions, and some with an entry of a type a router does not know or an unsigned
    /// type-1 route, which receivers reject (built by hand: no writer makes them).
    /// </summary>
    private static List<byte[]> UpdateCorpus()
    {
        var random = new Random(3);
        var signed = SignedRoutes.Routes();
        RouteAdvert Route(int i) => (i % 4) switch
        {
            2 => new RouteAdvert(FuzzTargets.RandomAddress(random), (ushort)random.Next(0x10000), Metric.Infinity),
            3 => signed[random.Next(signed.Length)] with { Metric = (ushort)random.Next(0, 2000), ProofByReference = true }, // type 3
            _ => signed[random.Next(signed.Length)] with { Metric = (ushort)random.Next(0, 2000) },
        };

        byte[] Update(ushort interval, RouteAdvert[] routes)
        {
            var payload = new byte[UpdateMessage.Size(routes)];
            UpdateMessage.Write(payload, interval, routes);
            return payload;
        }

        var corpus = new List<byte[]>();
        foreach (var count in new[] { 0, 1, 2, 3, 5 })
        {
            corpus.Add(Update((ushort)(count == 0 ? 400 : random.Next(1, 0x10000)), [.. Enumerable.Range(0, count).Select(Route)]));
        }

        // A retraction and a signed route around an entry of another type: unknown (0, 4, 200; lengths 0, 7, 255) or an unsigned route.
        foreach (var (type, length) in new (byte, int)[] { (0, 0), (4, 7), (200, 255), (1, 36) })
        {
            var known = Update(400, [Route(2), Route(0)]);
            var other = new byte[2 + length];
            other[0] = type;
            other[1] = (byte)length;
            random.NextBytes(other.AsSpan(2));
            var split = UpdateMessage.HeaderSize + UpdateMessage.RetractionEntrySize;
            corpus.Add([.. known.AsSpan(0, split), .. other, .. known.AsSpan(split)]);
        }

        return corpus;
    }

    private static List<byte[]> SeqnoCorpus()
    {
        var random = new Random(4);
        var corpus = new List<byte[]>();
        foreach (var (seqno, hops) in new (ushort, byte)[] { (0, 64), (1, 1), (0xFFFF, 0), (0x8000, 255), (12_345, 63) })
        {
            var payload = new byte[SeqnoRequest.Size];
            new SeqnoRequest(FuzzTargets.RandomAddress(random), seqno, hops).Write(payload);
            corpus.Add(payload);
        }

        return corpus;
    }
}
