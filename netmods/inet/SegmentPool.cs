using System.Buffers;

namespace Router.Netmods.Inet;

/// <summary>
/// The memory behind every connection's pipes: fixed 64 KiB blocks, reused without limit of
/// thread. <see cref="MemoryPool{T}.Shared"/> keeps only a few arrays of each size per core
/// and in per-thread slots that pool threads strand, so under load the pipes allocated a
/// fresh 64 KiB array every few hundred frames (measured); this pool does not.
/// </summary>
/// <remarks>
/// Retains at most <see cref="MaxRetained"/> blocks (16 MiB); beyond that returned blocks
/// are left to the GC, so a burst of many connections does not pin memory for ever.
/// Blocks are allocated on the pinned heap, as they are handed to socket calls.
/// </remarks>
internal sealed class SegmentPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;
    private const int MaxRetained = 256;

    private readonly Stack<Block> _free = new();
    private readonly Lock _lock = new();

    public static SegmentPool Instance { get; } = new();

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (minBufferSize > BlockSize)
        {
            // Never asked for by the pipes as configured; served correctly all the same.
            return new Block(minBufferSize, null);
        }

        lock (_lock)
        {
            if (_free.TryPop(out var block))
            {
                return block;
            }
        }

        return new Block(BlockSize, this);
    }

    protected override void Dispose(bool disposing)
    {
        // Shared for the process lifetime: nothing to release.
    }

    private void Return(Block block)
    {
        lock (_lock)
        {
            if (_free.Count < MaxRetained)
            {
                _free.Push(block);
            }
        }
    }

    private sealed class Block(int size, SegmentPool? pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(size, pinned: true);

        public Memory<byte> Memory => _array;

        public void Dispose() => pool?.Return(this);
    }
}
