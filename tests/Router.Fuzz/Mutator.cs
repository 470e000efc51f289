using System.Buffers.Binary;

namespace Router.Fuzz;

/// <summary>The mutations <see cref="Mutator"/> stacks; named in failure reports.</summary>
internal enum Mutation : byte
{
    FlipBit,
    InterestingByte,
    RandomByte,
    AddToByte,
    InterestingU16,
    InterestingU32,
    Truncate,
    Extend,
    InsertBytes,
    DeleteChunk,
    DuplicateChunk,
    CopyChunk,
    SwapChunks,
    Splice,
    InsertToken,
    OverwriteToken,
}

/// <summary>
/// Makes fuzz inputs from a corpus of valid inputs, deterministically: the input of iteration
/// <c>i</c> under seed <c>s</c> depends on nothing else (each iteration seeds its own generator
/// from both), so any one can be rebuilt without running the ones before it.
/// <para>
/// An input is a corpus entry (1 in 64 left as is) with 1, 2, 4, 8 or 16 stacked mutations:
/// bit flips, bytes set to interesting values (0, 0x7F, 0x80, 0xFF, the length ± 1, …), byte
/// arithmetic, 16- and 32-bit fields (often 2- or 4-aligned, mostly big-endian) set to boundary
/// values or nudged by a little, truncation, extension with random bytes, chunks inserted,
/// deleted, duplicated, copied or swapped, splices with another corpus entry, and tokens from an
/// optional dictionary (for text formats). Like AFL's "havoc" stage, without coverage feedback.
/// </para>
/// Generating allocates nothing: the input is built in a buffer the mutator owns, so a
/// target's allocations can be measured around it. Not thread-safe.
/// </summary>
internal sealed class Mutator
{
    /// <summary>The most mutations stacked on one input.</summary>
    public const int MaxStack = 16;

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x02, 0x10, 0x20, 0x40, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF];

    private static readonly ushort[] InterestingU16s = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x3FFF, 0x7FFF, 0x8000, 0x8001, 0xFFFE, 0xFFFF];

    private static readonly uint[] InterestingU32s =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x10_0000, 0x100_0000,
        0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, 0xFFFF_FFFE, 0xFFFF_FFFF,
    ];

    private static readonly int MutationCount = Enum.GetValues<Mutation>().Length;

    private readonly byte[][] _corpus;
    private readonly byte[][] _dictionary;
    private readonly byte[] _buffer;
    private readonly byte[] _scratch;
    private readonly Mutation[] _applied = new Mutation[MaxStack];
    private ulong _state;
    private int _length;

    public Mutator(IReadOnlyList<byte[]> corpus, int maxLength, IReadOnlyList<byte[]>? dictionary = null)
    {
        if (corpus.Count == 0)
        {
            throw new ArgumentException("The corpus needs at least one input.", nameof(corpus));
        }

        _corpus = [.. corpus];
        _dictionary = dictionary is null ? [] : [.. dictionary.Where(t => t.Length > 0)];
        MaxLength = Math.Max(maxLength, _corpus.Max(c => c.Length));
        _buffer = new byte[MaxLength];
        _scratch = new byte[MaxLength];
    }

    /// <summary>The longest input made: the larger of the requested maximum and the longest corpus entry.</summary>
    public int MaxLength { get; }

    /// <summary>How many mutations made the last input (0: a corpus entry as is).</summary>
    public int AppliedCount { get; private set; }

    /// <summary>The mutations that made the last input, in order.</summary>
    public ReadOnlySpan<Mutation> Applied => _applied.AsSpan(0, AppliedCount);

    /// <summary>
    /// The input of <paramref name="iteration"/> under <paramref name="seed"/>. The span is valid
    /// until the next call.
    /// </summary>
    public ReadOnlySpan<byte> Generate(ulong seed, long iteration)
    {
        // SplitMix64 seeded from both numbers: a good generator whose every state is usable.
        _state = seed ^ ((ulong)iteration * 0xD1B54A32D192ED03UL);
        _state = Next();
        var entry = _corpus[Below(_corpus.Length)];
        entry.CopyTo(_buffer, 0);
        _length = entry.Length;
        AppliedCount = 0;
        if (Below(64) != 0)
        {
            var stack = 1 << Below(5);
            for (var i = 0; i < stack; i++)
            {
                var mutation = (Mutation)Below(MutationCount);
                _applied[AppliedCount++] = mutation;
                Apply(mutation);
            }
        }

        return _buffer.AsSpan(0, _length);
    }

    private void Apply(Mutation mutation)
    {
        // Mutations that change bytes need some; on an empty input they grow it instead.
        if (_length == 0 && mutation is not (Mutation.Extend or Mutation.InsertBytes or Mutation.Splice or Mutation.InsertToken))
        {
            mutation = Mutation.Extend;
        }

        var data = _buffer.AsSpan(0, _length);
        switch (mutation)
        {
            case Mutation.FlipBit:
                data[Below(_length)] ^= (byte)(1 << Below(8));
                break;
            case Mutation.InterestingByte:
                data[Below(_length)] = Below(4) == 0
                    ? (byte)(_length + Below(3) - 1)
                    : InterestingBytes[Below(InterestingBytes.Length)];
                break;
            case Mutation.RandomByte:
                data[Below(_length)] = (byte)Next();
                break;
            case Mutation.AddToByte:
                data[Below(_length)] += (byte)(Below(2) == 0 ? 1 + Below(35) : -(1 + Below(35)));
                break;
            case Mutation.InterestingU16:
                if (_length >= 2)
                {
                    var at = FieldPosition(2);
                    var field = data.Slice(at, 2);
                    var bigEndian = Below(4) != 0;
                    var current = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(field) : BinaryPrimitives.ReadUInt16LittleEndian(field);
                    var value = (ushort)InterestingValue(current, InterestingU16s[Below(InterestingU16s.Length)], at + 2);
                    if (bigEndian)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(field, value);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(field, value);
                    }
                }

                break;
            case Mutation.InterestingU32:
                if (_length >= 4)
                {
                    var at = FieldPosition(4);
                    var field = data.Slice(at, 4);
                    var bigEndian = Below(4) != 0;
                    var current = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(field) : BinaryPrimitives.ReadUInt32LittleEndian(field);
                    var value = InterestingValue(current, InterestingU32s[Below(InterestingU32s.Length)], at + 4);
                    if (bigEndian)
                    {
                        BinaryPrimitives.WriteUInt32BigEndian(field, value);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(field, value);
                    }
                }

                break;
            case Mutation.Truncate:
                // Often by a little (a field cut short), sometimes anywhere.
                _length = Below(2) == 0 ? Math.Max(0, _length - 1 - Below(Math.Min(_length, 8))) : Below(_length);
                break;
            case Mutation.Extend:
                Insert(_length, ChunkLength(MaxLength - _length), fromToken: false);
                break;
            case Mutation.InsertBytes:
                Insert(Below(_length + 1), ChunkLength(MaxLength - _length), fromToken: false);
                break;
            case Mutation.DeleteChunk:
            {
                var count = ChunkLength(_length);
                var at = Below(_length - count + 1);
                data[(at + count)..].CopyTo(_buffer.AsSpan(at));
                _length -= count;
                break;
            }

            case Mutation.DuplicateChunk:
            {
                var count = Math.Min(ChunkLength(_length), MaxLength - _length);
                if (count > 0)
                {
                    var from = Below(_length - count + 1);
                    data.Slice(from, count).CopyTo(_scratch);
                    InsertFromScratch(Below(_length + 1), count);
                }

                break;
            }

            case Mutation.CopyChunk:
            {
                var count = ChunkLength(_length);
                data.Slice(Below(_length - count + 1), count).CopyTo(data[Below(_length - count + 1)..]);
                break;
            }

            case Mutation.SwapChunks:
                if (_length >= 2)
                {
                    var count = ChunkLength(_length / 2);
                    var first = Below(_length - (2 * count) + 1);
                    var second = first + count + Below(_length - first - (2 * count) + 1);
                    var a = data.Slice(first, count);
                    var b = data.Slice(second, count);
                    a.CopyTo(_scratch);
                    b.CopyTo(a);
                    _scratch.AsSpan(0, count).CopyTo(b);
                }

                break;
            case Mutation.Splice:
            {
                // This input's head, another entry's tail: fields from two valid inputs side by side.
                var other = _corpus[Below(_corpus.Length)];
                var head = Below(_length + 1);
                var tail = other.AsSpan(Below(other.Length + 1));
                var count = Math.Min(tail.Length, MaxLength - head);
                tail[..count].CopyTo(_buffer.AsSpan(head));
                _length = head + count;
                break;
            }

            case Mutation.InsertToken:
                if (_dictionary.Length > 0)
                {
                    Insert(Below(_length + 1), 0, fromToken: true);
                }
                else
                {
                    Insert(Below(_length + 1), ChunkLength(MaxLength - _length), fromToken: false);
                }

                break;
            case Mutation.OverwriteToken:
                if (_dictionary.Length > 0)
                {
                    var token = _dictionary[Below(_dictionary.Length)];
                    var count = Math.Min(token.Length, _length);
                    token.AsSpan(0, count).CopyTo(data[Below(_length - count + 1)..]);
                }
                else
                {
                    data[Below(_length)] = InterestingBytes[Below(InterestingBytes.Length)];
                }

                break;
            default:
                throw new InvalidOperationException($"Unknown mutation {mutation}.");
        }
    }

    /// <summary>A value for a field ending at <paramref name="end"/>: a boundary, the current value nudged, or one tied to the input's length.</summary>
    private uint InterestingValue(uint current, uint boundary, int end) => Below(8) switch
    {
        0 or 1 or 2 => boundary,
        3 => current + 1 + (uint)Below(16),
        4 => current - 1 - (uint)Below(16),
        5 => (uint)(_length + Below(3) - 1),
        // What is left after the field, ± 1: a length field that (almost) matches its payload.
        6 => (uint)(_length - end + Below(3) - 1),
        // The length less a small amount: a length that matches a payload after a header.
        _ => (uint)(_length - Below(129)),
    };

    /// <summary>Where a field of <paramref name="width"/> bytes goes: half the time aligned to its width, as the wire formats align theirs.</summary>
    private int FieldPosition(int width)
    {
        var at = Below(_length - width + 1);
        return Below(2) == 0 ? at & ~(width - 1) : at;
    }

    /// <summary>A chunk length from 1 to <paramref name="limit"/>, mostly short.</summary>
    private int ChunkLength(int limit) => limit <= 0 ? 0 : 1 + Below(Math.Min(limit, 1 << (1 + Below(7))));

    private void Insert(int at, int count, bool fromToken)
    {
        if (fromToken)
        {
            var token = _dictionary[Below(_dictionary.Length)];
            count = Math.Min(token.Length, MaxLength - _length);
            token.AsSpan(0, count).CopyTo(_scratch);
        }
        else
        {
            count = Math.Min(count, MaxLength - _length);
            var chunk = _scratch.AsSpan(0, count);
            if (Below(2) == 0)
            {
                chunk.Fill(Below(2) == 0 ? InterestingBytes[Below(InterestingBytes.Length)] : (byte)Next());
            }
            else
            {
                for (var i = 0; i < chunk.Length; i++)
                {
                    chunk[i] = (byte)Next();
                }
            }
        }

        InsertFromScratch(at, count);
    }

    /// <summary>Inserts the first <paramref name="count"/> bytes of the scratch buffer at <paramref name="at"/>.</summary>
    private void InsertFromScratch(int at, int count)
    {
        if (count <= 0)
        {
            return;
        }

        _buffer.AsSpan(at, _length - at).CopyTo(_buffer.AsSpan(at + count));
        _scratch.AsSpan(0, count).CopyTo(_buffer.AsSpan(at));
        _length += count;
    }

    private ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in [0, <paramref name="bound"/>) (0 when the bound is not positive); Lemire's multiply-shift, bias negligible here.</summary>
    private int Below(int bound) => bound <= 0 ? 0 : (int)(((Next() >> 32) * (ulong)bound) >> 32);
}
