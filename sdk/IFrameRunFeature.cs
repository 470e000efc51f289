namespace Router.Sdk;

/// <summary>
/// Optional netmod feature (see <see cref="Netmod.GetFeature{TFeature}"/>, SDK 1.6): sends
/// several frames to one neighbour in one call — a <em>run</em> — so a link that can move them
/// together pays once for all of them (the udp netmod hands a run to the kernel as one
/// segmented datagram, <c>UDP_SEGMENT</c>, instead of one <c>sendto</c> per frame). The router
/// uses it for the slices of one message that is larger than the netmod's frames; everything
/// else still goes through <see cref="Netmod.SendAsync"/>.
/// </summary>
/// <remarks>
/// <para>Layout of a run: frame <c>i</c> starts at <c>i × stride + </c><see cref="FrameHeadroom"/>;
/// every frame but the last is <c>stride − FrameHeadroom</c> bytes long, and the last ends at the
/// end of the run. The <see cref="FrameHeadroom"/> bytes before each frame belong to the netmod,
/// which may write its own per-frame header there (and must not write anywhere else). So a run of
/// <c>n</c> frames is <c>(n − 1) × stride + FrameHeadroom + lastFrameLength</c> bytes.</para>
/// <para>Each frame is delivered to the neighbour as if sent alone with
/// <see cref="Netmod.SendAsync"/>, in order; frames of a run may be lost as any frame may.</para>
/// </remarks>
public interface IFrameRunFeature
{
    /// <summary>
    /// Bytes the netmod needs free before each frame of a run. Constant for the netmod's
    /// lifetime; 0 when it needs none.
    /// </summary>
    int FrameHeadroom { get; }

    /// <summary>
    /// Sends the frames of <paramref name="run"/> to one neighbour, in order. Ownership is as for
    /// <see cref="Netmod.SendAsync"/>: the caller may reuse <paramref name="run"/> once the task
    /// completes. Expected failures are returned as <see cref="SendResult"/>, never thrown.
    /// </summary>
    /// <param name="neighbour">The neighbour, as reported in a <see cref="NeighbourEvent"/>.</param>
    /// <param name="run">The frames, laid out as described above; the netmod may write each frame's headroom.</param>
    /// <param name="stride">Distance between the starts of consecutive frames' headroom: at most
    /// <see cref="FrameHeadroom"/> + <see cref="NetmodCapabilities.MaxFrameSize"/>.</param>
    /// <param name="cancellationToken">Cancels a wait for queue space.</param>
    /// <returns><see cref="SendResult.Sent"/> when every frame was queued; otherwise why not (some frames may have been sent).</returns>
    ValueTask<SendResult> SendRunAsync(NeighbourId neighbour, Memory<byte> run, int stride, CancellationToken cancellationToken);
}
