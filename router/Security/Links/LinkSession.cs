using System.Buffers.Binary;

namespace Router.Security.Links;

/// <summary>Why a sealed control frame was rejected.</summary>
internal enum SealFailure
{
    None,
    TooShort,
    BadTag,
    Replayed,
}

/// <summary>
/// The keys of one authenticated link, used to seal the link-local control frames (hello,
/// update, seqno request). A sealed frame is the frame followed by a 24-byte trailer:
/// <c>u64 counter ‖ 16-byte AES-256-GCM tag</c> over the whole frame as associated data (no
/// plaintext: the frame is authenticated, not hidden). The nonce is 4 zero bytes ‖ the
/// counter; each direction has its own key, so nonces never repeat. The receiver keeps a
/// 64-counter replay window (udp may reorder). Sealing and opening allocate nothing; the
/// send side has one writer (the routing loop) and the receive side one reader (the
/// netmod's switch loop).
/// </summary>
internal sealed class LinkSession : IDisposable
{
    public const int TrailerSize = 8 + TagSize;
    private const int TagSize = AeadKey.TagLength;

    private readonly AeadKey _send;
    private readonly AeadKey _receive;
    private readonly ReplayWindow _window = new();
    private long _sendCounter;

    public LinkSession(LinkKeys keys)
    {
        _send = new AeadKey(keys.SendKey);
        _receive = new AeadKey(keys.ReceiveKey);
    }

    /// <summary>
    /// Appends the trailer to the <paramref name="length"/>-byte frame at the start of
    /// <paramref name="buffer"/> (which must have <see cref="TrailerSize"/> bytes to spare);
    /// returns the sealed length.
    /// </summary>
    public int Seal(Span<byte> buffer, int length)
    {
        var counter = (ulong)Interlocked.Increment(ref _sendCounter);
        var trailer = buffer.Slice(length, TrailerSize);
        BinaryPrimitives.WriteUInt64BigEndian(trailer, counter);
        Span<byte> nonce = stackalloc byte[AeadKey.NonceLength];
        Nonce(counter, nonce);
        _send.Encrypt(nonce, [], trailer[8..], buffer[..length]);
        return length + TrailerSize;
    }

    /// <summary>Checks a sealed frame; on success <paramref name="length"/> is the frame without its trailer.</summary>
    public SealFailure TryOpen(ReadOnlySpan<byte> sealedFrame, out int length)
    {
        length = 0;
        if (sealedFrame.Length < TrailerSize)
        {
            return SealFailure.TooShort;
        }

        var frameLength = sealedFrame.Length - TrailerSize;
        var trailer = sealedFrame[frameLength..];
        var counter = BinaryPrimitives.ReadUInt64BigEndian(trailer);
        if (!_window.MayAccept(counter))
        {
            return SealFailure.Replayed;
        }

        Span<byte> nonce = stackalloc byte[AeadKey.NonceLength];
        Nonce(counter, nonce);
        if (!_receive.TryDecrypt(nonce, trailer[8..], [], sealedFrame[..frameLength]))
        {
            return SealFailure.BadTag;
        }

        _window.Accept(counter);
        length = frameLength;
        return SealFailure.None;
    }

    private static void Nonce(ulong counter, Span<byte> nonce)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(nonce[4..], counter);
    }

    public void Dispose()
    {
        _send.Dispose();
        _receive.Dispose();
    }
}

/// <summary>
/// Which of the last 64 counters have been seen, relative to the highest seen. Counter 0 is
/// never valid. Check with <see cref="MayAccept"/> before authenticating, record with
/// <see cref="Accept"/> after, so a forged counter cannot move the window.
/// </summary>
internal sealed class ReplayWindow
{
    private const int Width = 64;
    private ulong _highest;
    private ulong _seen; // bit i: counter _highest - i has been accepted

    public bool MayAccept(ulong counter)
    {
        if (counter == 0)
        {
            return false;
        }

        if (counter > _highest)
        {
            return true;
        }

        var age = _highest - counter;
        return age < Width && (_seen & (1UL << (int)age)) == 0;
    }

    public void Accept(ulong counter)
    {
        if (counter > _highest)
        {
            var shift = counter - _highest;
            _seen = shift >= Width ? 0 : _seen << (int)shift;
            _seen |= 1;
            _highest = counter;
        }
        else
        {
            _seen |= 1UL << (int)(_highest - counter);
        }
    }
}
