namespace Router.Sdk;

/// <summary>Where a configured or connected peer of a netmod stands.</summary>
public enum PeerState
{
    /// <summary>Trying to establish a link (dialling, or waiting to retry).</summary>
    Connecting,

    /// <summary>The link is up.</summary>
    Up,

    /// <summary>Not trying: the link is carried by another connection to the same router.</summary>
    Idle,
}

/// <summary>One peer as a netmod sees it.</summary>
/// <param name="Endpoint">The peer in the netmod's syntax, as configured or as seen on accept.</param>
/// <param name="State">Where it stands.</param>
/// <param name="Address">The router address from the peer's handshake, or <see cref="RouterAddress.None"/> before one.</param>
/// <param name="Neighbour">The neighbour id while the link is up.</param>
/// <param name="Since">When <paramref name="State"/> last changed.</param>
/// <param name="LastError">Why the last attempt failed, if it did.</param>
/// <param name="Inbound">True for a link the peer dialled, false for one this router dialled.</param>
public sealed record PeerStatus(
    string Endpoint,
    PeerState State,
    RouterAddress Address,
    NeighbourId? Neighbour,
    DateTimeOffset Since,
    string? LastError,
    bool Inbound);

/// <summary>
/// Optional netmod feature: lists configured peers and live links, including peers not yet
/// reached, so <c>router status</c> can show them.
/// </summary>
public interface IPeerStatusFeature
{
    /// <summary>A snapshot of the netmod's peers. Thread-safe.</summary>
    IReadOnlyList<PeerStatus> GetPeers();
}
