namespace Router.Sdk;

/// <summary>Whether a neighbour came or went.</summary>
public enum NeighbourEventKind
{
    /// <summary>A link to the neighbour is established: frames can be sent to it.</summary>
    Up,

    /// <summary>The link is gone: sends to the neighbour now fail with <see cref="SendResult.NoSuchNeighbour"/>.</summary>
    Down,
}

/// <summary>
/// A neighbour appearing or disappearing, reported through <see cref="Netmod.NeighbourEvents"/>.
/// A netmod reports <see cref="NeighbourEventKind.Up"/> before delivering any frame from that
/// neighbour and <see cref="NeighbourEventKind.Down"/> exactly once after it, and reports
/// <see cref="NeighbourEventKind.Down"/> for every live neighbour when it stops.
/// </summary>
/// <param name="Kind">Up or down.</param>
/// <param name="Neighbour">The netmod's id for the neighbour.</param>
/// <param name="Address">The router address the neighbour claimed in the netmod's handshake,
/// or <see cref="RouterAddress.None"/> when the link type has no handshake.</param>
/// <param name="RemoteEndpoint">The neighbour's address in the netmod's own syntax
/// (e.g. <c>192.0.2.1:5860</c>), for people reading logs and status.</param>
public readonly record struct NeighbourEvent(NeighbourEventKind Kind, NeighbourId Neighbour, RouterAddress Address, string RemoteEndpoint);
