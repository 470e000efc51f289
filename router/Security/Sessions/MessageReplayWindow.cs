namespace Router.Security.Sessions;

/// <summary>
/// Which message counters of a session have been opened, over a sliding window of the newest
/// <see cref="Size"/> counters (RFC 6479's bitmap ring). Messages complete out of order —
/// slices of a large message can arrive after a small message sealed later — so the window
/// is wide; a counter older than the window is refused, as a replay would be. Not thread-safe:
/// the session's receive lock guards it. Allocates only its bitmap, once.
/// </summary>
internal sealed class MessageReplayWindow
{
    /// <summary>Counters behind the newest one that are still accepted (once each).</summary>
    public const int Size = 2048;

    private const int WordBits = 64;

    // One word more than the window: the word holding the newest counter is part-used.
    private const int Words = (Size / WordBits) + 1;

    private readonly ulong[] _bitmap = new ulong[Words];
    private ulong _newest;

    /// <summary>Whether <paramref name="counter"/> may be opened: newer than any seen, or within the window and not seen.</summary>
    public bool CanAccept(ulong counter)
    {
        if (counter > _newest)
        {
            return true;
        }

        if (_newest - counter >= Size)
        {
            return false;
        }

        var word = (int)((counter / WordBits) % Words);
        return (_bitmap[word] & (1UL << (int)(counter % WordBits))) == 0;
    }

    /// <summary>Records <paramref name="counter"/> as opened (after its tag verified); slides the window when it is the newest.</summary>
    public void Mark(ulong counter)
    {
        if (counter > _newest)
        {
            var current = _newest / WordBits;
            var next = counter / WordBits;
            var clear = Math.Min(next - current, Words);
            for (ulong i = 1; i <= clear; i++)
            {
                _bitmap[(int)((current + i) % Words)] = 0;
            }

            _newest = counter;
        }

        _bitmap[(int)((counter / WordBits) % Words)] |= 1UL << (int)(counter % WordBits);
    }
}
