namespace Router.Sdk;

/// <summary>
/// What consumes a <see cref="FrameChannel"/> through <see cref="FrameChannelReader.ConsumeAsync"/>
/// (SDK 1.8): the router implements it; a netmod only writes frames.
/// </summary>
public interface IFrameHandler
{
    /// <summary>
    /// Handles one frame, which it now owns (it releases the frame when done). Called for one
    /// frame at a time, in the order each writer wrote them, often on the writer's own thread.
    /// Complete synchronously whenever possible: a call that completes later holds every
    /// following frame in the channel until it does, which is how backpressure reaches the
    /// writers.
    /// </summary>
    /// <param name="frame">The frame. Its <see cref="InboundFrame.MoreFollows"/> is also true when another frame is already queued behind it.</param>
    ValueTask HandleAsync(InboundFrame frame);
}
