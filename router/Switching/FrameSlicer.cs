using Router.Hosting;
using Router.Sdk;

namespace Router.Switching;

/// <summary>
/// Cuts a frame that is longer than the next hop's frames into slices that fit, each with the
/// frame's header and its own offset (the frame's offset plus the slice's position in its
/// payload), and sends them in order. The destination reassembles by offset, so it does not
/// matter where along the path a frame was cut. Used by everything that slices: messages this
/// router sends, IP packet batches, and frames a relay cuts again for a smaller link.
/// </summary>
/// <remarks>
/// A netmod that takes runs (<see cref="IFrameRunFeature"/>) gets all slices in one call, laid
/// out at its stride in one pooled buffer — for udp one system call instead of one per slice.
/// Any other netmod gets one <see cref="Netmod.SendAsync"/> per slice from one reused buffer.
/// Either way each slice is copied once, and nothing is allocated.
/// </remarks>
internal static class FrameSlicer
{
    /// <summary>
    /// Sends <paramref name="frame"/> (a header whose offset field is <paramref name="offset"/>,
    /// then the payload) to <paramref name="to"/> in slices of at most the netmod's frame size.
    /// </summary>
    /// <returns><see cref="SendResult.Sent"/>, or the first failure (the slices after it are not sent).</returns>
    public static ValueTask<SendResult> SendAsync(NetmodInstance netmod, NeighbourId to, ReadOnlyMemory<byte> frame, uint offset, CancellationToken cancellationToken) =>
        netmod.Runs is null
            ? SendOneByOneAsync(netmod, to, frame, offset, cancellationToken)
            : SendRunAsync(netmod, to, frame, offset, cancellationToken);

    private static async ValueTask<SendResult> SendRunAsync(NetmodInstance netmod, NeighbourId to, ReadOnlyMemory<byte> frame, uint offset, CancellationToken cancellationToken)
    {
        var capacity = netmod.MaxFrameSize - FrameHeader.Size;
        var payloadLength = frame.Length - FrameHeader.Size;
        var slices = (payloadLength + capacity - 1) / capacity;
        var headroom = netmod.Runs!.FrameHeadroom;
        var stride = headroom + netmod.MaxFrameSize;
        var lastLength = payloadLength - ((slices - 1) * capacity);
        var runLength = ((slices - 1) * stride) + headroom + FrameHeader.Size + lastLength;
        var run = FrameBuffers.Rent(runLength);
        try
        {
            for (var i = 0; i < slices; i++)
            {
                var position = i * capacity;
                var slice = run.AsSpan((i * stride) + headroom);
                frame.Span[..FrameHeader.Size].CopyTo(slice);
                FrameHeader.WriteOffset(slice, offset + (uint)position);
                frame.Span.Slice(FrameHeader.Size + position, Math.Min(capacity, payloadLength - position)).CopyTo(slice[FrameHeader.Size..]);
            }

            var frameBytes = payloadLength + ((long)slices * FrameHeader.Size);
            return await netmod.SendRunAsync(to, run.AsMemory(0, runLength), stride, slices, frameBytes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            FrameBuffers.Return(run);
        }
    }

    private static async ValueTask<SendResult> SendOneByOneAsync(NetmodInstance netmod, NeighbourId to, ReadOnlyMemory<byte> frame, uint offset, CancellationToken cancellationToken)
    {
        var capacity = netmod.MaxFrameSize - FrameHeader.Size;
        var payloadLength = frame.Length - FrameHeader.Size;
        var slice = FrameBuffers.Rent(netmod.MaxFrameSize);
        try
        {
            for (var position = 0; position < payloadLength; position += capacity)
            {
                var length = Math.Min(capacity, payloadLength - position);
                frame.Span[..FrameHeader.Size].CopyTo(slice);
                FrameHeader.WriteOffset(slice, offset + (uint)position);
                frame.Span.Slice(FrameHeader.Size + position, length).CopyTo(slice.AsSpan(FrameHeader.Size));
                var result = await netmod.SendAsync(to, slice.AsMemory(0, FrameHeader.Size + length), cancellationToken).ConfigureAwait(false);
                if (result != SendResult.Sent)
                {
                    return result;
                }
            }

            return SendResult.Sent;
        }
        finally
        {
            FrameBuffers.Return(slice);
        }
    }
}
