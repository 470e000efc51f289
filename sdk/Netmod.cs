using System.Threading.Channels;

namespace Router.Sdk;

/// <summary>
/// A network module: one kind of link (TCP, UDP, a TUN device, a radio) between this router
/// and its neighbours. The router core drives it; the netmod moves opaque frames and knows
/// nothing of routing or encryption.
/// </summary>
/// <remarks>
/// <para>Lifecycle: created by <see cref="INetmodFactory.Create"/>, then <see cref="StartAsync"/>,
/// then any number of sends and peer additions from any thread, then <see cref="StopAsync"/>.
/// After stop: sends return <see cref="SendResult.Stopped"/>, <see cref="AddPeersAsync"/> throws
/// <see cref="InvalidOperationException"/>, and both channels are completed once the
/// frames and events already in them have been read.</para>
/// <para>Thread-safety: every member may be called concurrently from several threads.</para>
/// <para>Optional abilities are separate interfaces found with <see cref="GetFeature{T}"/>
/// (for example <see cref="IPeerStatusFeature"/>), so this base contract never widens.</para>
/// </remarks>
public abstract class Netmod : IAsyncDisposable
{
    /// <summary>Name, frame size and link kind. Constant for the netmod's lifetime.</summary>
    public abstract NetmodCapabilities Capabilities { get; }

    /// <summary>
    /// Opens sockets or devices and begins accepting and dialling peers configured in its
    /// section. Idempotent: a second call while started does nothing. Throws when the netmod
    /// cannot run (an address in use, no permission); the router then reports it and carries
    /// on without it.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start itself; it does not stop a started netmod.</param>
    public abstract Task StartAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Adds peers to connect to, in the netmod's own address syntax (e.g. <c>host:port</c>,
    /// <c>[v6]:port</c>). The netmod keeps trying to reach them until stopped. Returns once
    /// the peers are accepted, not when they are connected (watch <see cref="NeighbourEvents"/>).
    /// </summary>
    /// <param name="peers">The peers to add. Already known peers are ignored.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentException">Some peers are malformed; the message lists each one and none were added.</exception>
    /// <exception cref="InvalidOperationException">The netmod is stopped.</exception>
    public abstract ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken);

    /// <summary>
    /// Sends one frame to one neighbour. The netmod copies what it needs before the returned
    /// task completes, so the caller keeps ownership of <paramref name="frame"/> and may reuse
    /// it as soon as the task completes. The task completes when the frame is queued; a netmod
    /// may delay completion while its queue to that neighbour is full (backpressure).
    /// Expected failures are returned as <see cref="SendResult"/>, never thrown.
    /// </summary>
    /// <param name="neighbour">The neighbour, as reported in a <see cref="NeighbourEvent"/>.</param>
    /// <param name="frame">The frame, at most <see cref="NetmodCapabilities.MaxFrameSize"/> bytes.</param>
    /// <param name="cancellationToken">Cancels a wait for queue space.</param>
    public abstract ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken);

    /// <summary>
    /// Sends one frame to every neighbour, or every neighbour but <paramref name="except"/>.
    /// Ownership of <paramref name="frame"/> is as for <see cref="SendAsync"/>. Returns the
    /// number of neighbours the frame was queued for.
    /// </summary>
    /// <param name="frame">The frame, at most <see cref="NetmodCapabilities.MaxFrameSize"/> bytes.</param>
    /// <param name="except">A neighbour to leave out (usually the one the frame came from), or null.</param>
    /// <param name="cancellationToken">Cancels a wait for queue space.</param>
    public abstract ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken);

    /// <summary>
    /// Frames received from neighbours, each tagged with the neighbour it came from. Bounded.
    /// The reader owns each frame it reads and must <see cref="InboundFrame.Release"/> it.
    /// Completed after <see cref="StopAsync"/>.
    /// </summary>
    public abstract ChannelReader<InboundFrame> Incoming { get; }

    /// <summary>
    /// Neighbours coming up and going down, in order. An <see cref="NeighbourEventKind.Up"/>
    /// event precedes every frame from that neighbour in <see cref="Incoming"/>.
    /// Completed after <see cref="StopAsync"/>, which first reports every live neighbour down.
    /// </summary>
    public abstract ChannelReader<NeighbourEvent> NeighbourEvents { get; }

    /// <summary>
    /// Closes every link and socket, reports live neighbours down and completes both channels.
    /// Idempotent, and safe to call on a netmod that never started.
    /// </summary>
    /// <param name="cancellationToken">Shortens a graceful close; resources are released either way.</param>
    public abstract Task StopAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Returns an optional ability of this netmod (a feature interface), or null when it
    /// has none. The default implementation returns this object if it implements
    /// <typeparamref name="TFeature"/>.
    /// </summary>
    /// <typeparam name="TFeature">The feature interface.</typeparam>
    public virtual TFeature? GetFeature<TFeature>() where TFeature : class => this as TFeature;

    /// <summary>Stops the netmod (<see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }
}
