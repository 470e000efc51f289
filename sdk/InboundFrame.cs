namespace Router.Sdk;

/// <summary>
/// One frame received from a neighbour, as a netmod hands it to the router.
/// </summary>
/// <remarks>
/// <para>Ownership: <see cref="Buffer"/> was rented from <see cref="FrameBuffers"/>. Writing the
/// frame into <see cref="Netmod.Incoming"/> transfers it to the reader, which returns it with
/// <see cref="Release"/> when done. A netmod whose channel write fails (channel completed)
/// still owns the buffer and returns it itself.</para>
/// <para>The frame occupies <c>Buffer[Offset..(Offset + Length)]</c>; the reader may modify those
/// bytes in place (the router decrements the hop limit before forwarding). The
/// <see cref="Offset"/> bytes before the frame are <em>headroom</em> (SDK 1.7): the reader may
/// write there too, so it can put headers of its own in front of the frame without copying it
/// (see <see cref="NetmodContext.ReceiveHeadroom"/>). Most netmods leave no headroom.</para>
/// </remarks>
public readonly struct InboundFrame
{
    /// <summary>Creates a frame over a rented buffer.</summary>
    /// <param name="from">The neighbour the frame came from.</param>
    /// <param name="buffer">A buffer rented from <see cref="FrameBuffers"/>; ownership moves with the frame.</param>
    /// <param name="length">Number of frame bytes at the start of <paramref name="buffer"/>.</param>
    public InboundFrame(NeighbourId from, byte[] buffer, int length)
        : this(from, buffer, length, moreFollows: false)
    {
    }

    /// <summary>Creates a frame over a rented buffer, saying whether the netmod holds the next frame already.</summary>
    /// <param name="from">The neighbour the frame came from.</param>
    /// <param name="buffer">A buffer rented from <see cref="FrameBuffers"/>; ownership moves with the frame.</param>
    /// <param name="length">Number of frame bytes at the start of <paramref name="buffer"/>.</param>
    /// <param name="moreFollows">See <see cref="MoreFollows"/>.</param>
    public InboundFrame(NeighbourId from, byte[] buffer, int length, bool moreFollows)
        : this(from, buffer, offset: 0, length, moreFollows)
    {
    }

    /// <summary>Creates a frame that starts <paramref name="offset"/> bytes into a rented buffer (SDK 1.7), leaving the bytes before it as headroom.</summary>
    /// <param name="from">The neighbour the frame came from.</param>
    /// <param name="buffer">A buffer rented from <see cref="FrameBuffers"/>; ownership moves with the frame.</param>
    /// <param name="offset">Where the frame starts in <paramref name="buffer"/>; see <see cref="Offset"/>.</param>
    /// <param name="length">Number of frame bytes from <paramref name="offset"/>.</param>
    /// <param name="moreFollows">See <see cref="MoreFollows"/>.</param>
    public InboundFrame(NeighbourId from, byte[] buffer, int offset, int length, bool moreFollows)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, buffer.Length - offset);
        From = from;
        Buffer = buffer;
        Offset = offset;
        Length = length;
        MoreFollows = moreFollows;
    }

    /// <summary>The neighbour the frame arrived from.</summary>
    public NeighbourId From { get; }

    /// <summary>The rented buffer holding the frame at <see cref="Offset"/>.</summary>
    public byte[] Buffer { get; }

    /// <summary>
    /// Where the frame starts in <see cref="Buffer"/> (SDK 1.7); 0 unless the netmod left
    /// headroom. The bytes before it belong to the reader as much as the frame does.
    /// </summary>
    public int Offset { get; }

    /// <summary>Number of frame bytes in <see cref="Buffer"/>.</summary>
    public int Length { get; }

    /// <summary>
    /// A hint (SDK 1.5): the netmod has already read the next frame and is about to write it to
    /// <see cref="Netmod.Incoming"/>. A reader that gathers frames before acting on them (the
    /// router batches the IP packets of an <see cref="IIpInterfaceFeature"/> netmod and seals
    /// each batch once) may wait for that frame instead of acting on what it has; on false it
    /// acts at once, so an idle frame waits for nothing. A netmod that cannot tell leaves it
    /// false. Setting it and then not writing the next frame (except when stopping) delays the
    /// frames before it indefinitely.
    /// </summary>
    public bool MoreFollows { get; }

    /// <summary>The frame bytes.</summary>
    public Span<byte> Span => Buffer.AsSpan(Offset, Length);

    /// <summary>The frame bytes as memory.</summary>
    public Memory<byte> Memory => Buffer.AsMemory(Offset, Length);

    /// <summary>Returns the buffer to <see cref="FrameBuffers"/>. Call exactly once, as the owner.</summary>
    public void Release() => FrameBuffers.Return(Buffer);
}
