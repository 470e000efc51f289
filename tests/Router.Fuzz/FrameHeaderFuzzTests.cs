using Router.Sdk;
using Router.Switching;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// <see cref="FrameHeader.TryRead"/> on a million mutated frames, each read with several
/// message size limits. Every verdict is compared with the rules of docs/wire-format.md,
/// re-implemented here independently; every accepted header is written back and must give the
/// same bytes (flags aside: reserved, written as 0) and read back to the same values.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class FrameHeaderFuzzTests(ITestOutputHelper output)
{
    /// <summary>Message size limits each input is read with: none allowed, tiny, the default-ish, and none at all.</summary>
    private static readonly uint[] Limits = [0, 1, 100, 64 * 1024, 16 * 1024 * 1024, uint.MaxValue];

    private static readonly bool[] KnownKinds = KindTable();

    private readonly byte[] _rewritten = new byte[FuzzTargets.MaxFrameLength];

    [Fact]
    public void TryRead_MillionMutatedFrames_MatchesTheDocumentedRulesAndRoundTrips()
    {
        var result = Fuzzer.Run("frame-header", Corpus(), seed: 0xF4A3E, FuzzTargets.Iterations, Target, new FuzzOptions { MaxLength = FuzzTargets.MaxFrameLength });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
        FuzzTargets.AssertAllocatesNothing(result);
    }

    private bool Target(ReadOnlySpan<byte> frame)
    {
        var accepted = false;
        foreach (var limit in Limits)
        {
            var error = FrameHeader.TryRead(frame, limit, out var header);
            var expected = Documented(frame, limit);
            if (error != expected)
            {
                Check.Fail($"TryRead(limit {limit}) said {error}; the documented rules say {expected}.");
            }

            if (error != FrameError.None)
            {
                continue;
            }

            accepted = true;
            var rewritten = _rewritten.AsSpan(0, frame.Length);
            frame.CopyTo(rewritten);
            header.Write(rewritten);
            if (rewritten[3] != 0 || !rewritten[..3].SequenceEqual(frame[..3]) || !rewritten[4..FrameHeader.Size].SequenceEqual(frame[4..FrameHeader.Size]))
            {
                Check.Fail($"Writing the accepted header gave {Convert.ToHexStringLower(rewritten[..FrameHeader.Size])}, not the input's header (flags zeroed).");
            }

            if (FrameHeader.TryRead(rewritten, limit, out var again) != FrameError.None || !Same(header, again))
            {
                Check.Fail("The rewritten header does not read back to the same values.");
            }
        }

        return accepted;
    }

    /// <summary>docs/wire-format.md, "Router frame header", with the parser's order of checks.</summary>
    private static FrameError Documented(ReadOnlySpan<byte> frame, uint limit)
    {
        if (frame.Length < 80)
        {
            return FrameError.TooShort;
        }

        if (frame[0] != 1)
        {
            return FrameError.UnknownVersion;
        }

        if (!KnownKinds[frame[1]])
        {
            return FrameError.UnknownKind;
        }

        var messageLength = ((ulong)frame[72] << 24) | ((ulong)frame[73] << 16) | ((ulong)frame[74] << 8) | frame[75];
        var offset = ((ulong)frame[76] << 24) | ((ulong)frame[77] << 16) | ((ulong)frame[78] << 8) | frame[79];
        var payload = (ulong)(frame.Length - 80);
        if (messageLength > limit)
        {
            return FrameError.MessageTooLarge;
        }

        return (payload == 0 && messageLength != 0) || offset + payload > messageLength ? FrameError.BadSlice : FrameError.None;
    }

    private static bool Same(in FrameHeader a, in FrameHeader b) =>
        a.Kind == b.Kind && a.HopLimit == b.HopLimit && a.Destination == b.Destination && a.Source == b.Source &&
        a.MessageId == b.MessageId && a.MessageLength == b.MessageLength && a.Offset == b.Offset;

    private static bool[] KindTable()
    {
        var table = new bool[256];
        foreach (var kind in Enum.GetValues<FrameKind>())
        {
            table[(byte)kind] = true;
        }

        return table;
    }

    /// <summary>Valid frames of every kind, written by <see cref="FrameHeader.Write"/>: whole messages, slices at the start, middle and end, empty messages, floods.</summary>
    private static List<byte[]> Corpus()
    {
        var random = new Random(80);
        var corpus = new List<byte[]>();
        foreach (var kind in Enum.GetValues<FrameKind>())
        {
            foreach (var (payload, offset, messageLength) in new (int, uint, uint)[] { (0, 0, 0), (5, 0, 5), (16, 0, 16), (100, 0, 300), (100, 200, 300), (64, 1000, 65_536), (200, 0, 200) })
            {
                var destination = kind == FrameKind.Flood ? RouterAddress.None : FuzzTargets.RandomAddress(random);
                var header = new FrameHeader(kind, (byte)random.Next(0, 256), destination, FuzzTargets.RandomAddress(random), (uint)random.Next(), messageLength, offset);
                var frame = new byte[FrameHeader.Size + payload];
                header.Write(frame);
                random.NextBytes(frame.AsSpan(FrameHeader.Size));
                corpus.Add(frame);
            }
        }

        return corpus;
    }
}
