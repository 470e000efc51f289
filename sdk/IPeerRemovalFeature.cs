namespace Router.Sdk;

/// <summary>
/// Optional netmod feature (see <see cref="Netmod.GetFeature{TFeature}"/>, SDK 1.4): forgets
/// peers added with <see cref="Netmod.AddPeersAsync"/> or configured in the netmod's section,
/// so the router can apply a configuration reload that removes peers without restarting the
/// netmod. A netmod without it is restarted instead, which drops all of its links.
/// </summary>
public interface IPeerRemovalFeature
{
    /// <summary>
    /// Stops trying to reach each peer and closes the link this router made to it, reporting
    /// the neighbour <see cref="NeighbourEventKind.Down"/> (unless another peer that is still
    /// configured leads to the same router). Returns once those links are closed. Peers the
    /// netmod does not know are ignored. A removed peer that itself dials or greets this router
    /// may link again, as any unconfigured peer may; refuse it with the router's peer policy.
    /// Thread-safe; may run concurrently with sends and <see cref="Netmod.AddPeersAsync"/>.
    /// </summary>
    /// <param name="peers">The peers, in the syntax <see cref="Netmod.AddPeersAsync"/> takes.</param>
    /// <param name="cancellationToken">Cancels waiting for the links to close; the peers are forgotten either way.</param>
    /// <exception cref="ArgumentException">Some peers are malformed; the message lists each one and none were removed.</exception>
    /// <exception cref="InvalidOperationException">The netmod is stopped.</exception>
    ValueTask RemovePeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken);
}
