using System.Threading.Channels;
using Router.Sdk;

namespace Router.Switching;

/// <summary>
/// Feeds a netmod's incoming frames to a handler (the switch, or the packet gateway for an IP
/// interface): on the netmod's own thread when its channel is a <see cref="FrameChannel"/>,
/// otherwise from a loop that awaits the channel. Either way one frame at a time, each marked
/// <see cref="InboundFrame.MoreFollows"/> when another is already waiting behind it.
/// </summary>
internal static class IncomingFrames
{
    /// <summary>
    /// Consumes <paramref name="reader"/> until it completes or <paramref name="cancellationToken"/>
    /// is cancelled; then releases the frames left in it. A handler's exception ends it.
    /// </summary>
    public static async Task ConsumeAsync(ChannelReader<InboundFrame> reader, IFrameHandler handler, CancellationToken cancellationToken)
    {
        try
        {
            if (reader is FrameChannelReader inline)
            {
                await inline.ConsumeAsync(handler, cancellationToken).ConfigureAwait(false);
                return;
            }

            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var frame))
                {
                    if (!frame.MoreFollows && reader.TryPeek(out _))
                    {
                        frame = new InboundFrame(frame.From, frame.Buffer, frame.Offset, frame.Length, moreFollows: true);
                    }

                    var pending = handler.HandleAsync(frame);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        await pending.ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Frames still queued belong to us now; give their buffers back.
            while (reader.TryRead(out var frame))
            {
                frame.Release();
            }
        }
    }
}
