using System.Buffers.Binary;
using System.Net;
using Router.Overlay;
using Router.Routing;
using Router.Sdk;
using Xunit.Abstractions;

namespace Router.Fuzz;

/// <summary>
/// What a router reads of IP traffic from others: the records of an opened packet batch
/// (<see cref="PacketBatch"/>, kind 12) and the signed prefix block of a route
/// (<see cref="AnnouncedPrefixes"/>), each on a million mutated inputs. Every batch verdict is
/// compared with docs/wire-format.md re-implemented here; every accepted prefix block must
/// encode back to the same bytes.
/// </summary>
[Collection(FuzzCollection.Name)]
[Trait("Category", FuzzCollection.CpuHeavy)]
public sealed class OverlayFuzzTests(ITestOutputHelper output)
{
    private readonly List<IPNetwork> _prefixes = [];

    [Fact]
    public void PacketBatch_MillionMutatedBatches_ReadsEveryRecordByTheDocumentedRules()
    {
        var result = Fuzzer.Run("packet-batch", BatchCorpus(), seed: 0xBA7C4, FuzzTargets.Iterations, BatchTarget, new FuzzOptions { MaxLength = 600 });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
        FuzzTargets.AssertAllocatesNothing(result);
    }

    [Fact]
    public void PrefixBlock_MillionMutatedBlocks_AcceptsOnlyCanonicalBlocks()
    {
        var result = Fuzzer.Run("prefix-block", PrefixCorpus(), seed: 0x9F1B, FuzzTargets.Iterations, PrefixTarget, new FuzzOptions { MaxLength = OriginProof.MaxPrefixBlockLength + 8 });

        output.WriteLine(result.ToString());
        FuzzTargets.AssertSound(result);
    }

    /// <summary>Walks the records as <see cref="PacketGateway.Receive"/> does; true when every record was well formed.</summary>
    private static bool BatchTarget(ReadOnlySpan<byte> batch)
    {
        var position = 0;
        while (position < batch.Length)
        {
            var ok = PacketBatch.TryRead(batch, position, out var start, out var length);

            // Documented: u16 packet length n (n ≥ 20), a 10-byte virtio header, n bytes, inside the batch.
            var fits = position + 12 <= batch.Length;
            var n = fits ? BinaryPrimitives.ReadUInt16BigEndian(batch[position..]) : 0;
            var expected = fits && n >= 20 && position + 12 + n <= batch.Length;
            if (ok != expected)
            {
                Check.Fail($"TryRead at {position} said {ok}; the documented rules say {expected}.");
            }

            if (!ok)
            {
                return false;
            }

            if (start != position + 2 || length != 10 + n)
            {
                Check.Fail($"record at {position}: frame [{start}, +{length}), expected [{position + 2}, +{10 + n}).");
            }

            var frame = batch.Slice(start, length);
            var destination = PacketBatch.Destination(frame);
            var source = PacketBatch.Source(frame);
            var version = frame[10] >> 4;
            var expectedLength = version == 4 ? 4 : version == 6 && n >= 40 ? 16 : 0;
            if (destination.Length != expectedLength || source.Length != expectedLength)
            {
                Check.Fail($"version {version}, {n}-byte packet: addresses of {destination.Length} and {source.Length} bytes, expected {expectedLength}.");
            }

            position = start + length;
        }

        return true;
    }

    private bool PrefixTarget(ReadOnlySpan<byte> block)
    {
        if (!AnnouncedPrefixes.TryDecode(block, _prefixes))
        {
            if (_prefixes.Count != 0)
            {
                Check.Fail("A refused block left prefixes behind.");
            }

            return false;
        }

        var again = AnnouncedPrefixes.TryEncode(_prefixes, out var problem);
        if (again is null || !again.AsSpan().SequenceEqual(block))
        {
            Check.Fail($"An accepted block does not encode back to itself ({problem ?? (again is null ? "refused" : Convert.ToHexStringLower(again))}).");
        }

        return true;
    }

    private static List<byte[]> BatchCorpus()
    {
        var batch = new byte[2 * (12 + 40) + 12 + 20];
        var position = 0;
        foreach (var (version, length) in new[] { (6, 40), (6, 40), (4, 20) })
        {
            BinaryPrimitives.WriteUInt16BigEndian(batch.AsSpan(position), (ushort)length);
            batch[position + 12] = (byte)(version << 4);
            position += 12 + length;
        }

        return [batch, batch[..52], new byte[12]];
    }

    private static List<byte[]> PrefixCorpus() =>
    [
        [0],
        AnnouncedPrefixes.TryEncode([IPNetwork.Parse("10.66.1.0/24"), IPNetwork.Parse("fd00:1::/32")], out _)!,
        AnnouncedPrefixes.TryEncode([IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("192.168.7.128/25"), IPNetwork.Parse("2001:db8::/48"), IPNetwork.Parse("::/0")], out _)!,
    ];
}
