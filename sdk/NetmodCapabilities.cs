namespace Router.Sdk;

/// <summary>What kind of link a netmod provides.</summary>
public enum LinkKind
{
    /// <summary>Separate point-to-point links to each neighbour (TCP peering).</summary>
    PointToPoint,

    /// <summary>A shared medium where one transmission reaches many neighbours (a LAN, radio).</summary>
    Broadcast,

    /// <summary>
    /// A link into this machine rather than to another router (a TUN device): no neighbours,
    /// frames are IP packets (see <see cref="IIpInterfaceFeature"/>, which such a netmod offers).
    /// </summary>
    Local,
}

/// <summary>Fixed facts about a netmod, read by the router after creating it.</summary>
/// <param name="Name">The netmod's name; equal to <see cref="INetmodFactory.Name"/>.</param>
/// <param name="MaxFrameSize">The largest frame, in bytes, <see cref="Netmod.SendAsync"/> accepts and
/// <see cref="Netmod.Incoming"/> delivers. The router slices messages to fit.</param>
/// <param name="BroadcastCapable">Whether <see cref="Netmod.SendAllAsync"/> costs one transmission rather than one per neighbour.</param>
/// <param name="Kind">The kind of link.</param>
public sealed record NetmodCapabilities(string Name, int MaxFrameSize, bool BroadcastCapable, LinkKind Kind);
