using System.Net;

namespace Router.Sdk;

/// <summary>
/// Optional feature (see <see cref="Netmod.GetFeature{TFeature}"/>) of a
/// <see cref="LinkKind.Local"/> netmod that is an IP interface of this machine, such as a TUN
/// device. Such a netmod has no neighbours: every frame it reads into
/// <see cref="Netmod.Incoming"/> is one IP packet (IPv4 or IPv6) that this machine sends into
/// the mesh, preceded by a <see cref="VirtioNetHeader"/>; every frame the router passes to
/// <see cref="Netmod.SendAsync"/> (the neighbour argument is ignored) is a packet from the
/// mesh, in the same form, to hand to this machine. Its
/// <see cref="NetmodCapabilities.MaxFrameSize"/> is the largest such frame it reads or accepts
/// (at most <see cref="VirtioNetHeader.MaxFrameSize"/>).
/// </summary>
/// <remarks>
/// The interface carries this router's overlay address (<see cref="OverlayAddress.For"/> of
/// <see cref="NetmodContext.LocalAddress"/>) with a route for <see cref="OverlayAddress.Prefix"/>
/// through itself, so every router's overlay address is reachable with no configuration.
/// </remarks>
public interface IIpInterfaceFeature
{
    /// <summary>
    /// The IPv4 and IPv6 prefixes this machine serves, which the router announces to the mesh
    /// signed with its key (configured in the netmod's section). Packets from the mesh to them
    /// are passed to <see cref="Netmod.SendAsync"/>. Each has its host bits zero. Constant
    /// for the netmod's lifetime.
    /// </summary>
    IReadOnlyList<IPNetwork> AnnouncedPrefixes { get; }

    /// <summary>
    /// Tells the interface which prefixes other routers announce, whenever that set changes:
    /// it routes each through itself (an operating-system route) so this machine's packets to
    /// them enter the mesh, and removes the routes of prefixes no longer listed. The router
    /// calls it after start, one call at a time; each call lists the whole set. Failures for
    /// single prefixes are logged by the netmod, not thrown.
    /// </summary>
    /// <param name="prefixes">Every prefix currently reachable through the mesh.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask SetMeshPrefixesAsync(IReadOnlyList<IPNetwork> prefixes, CancellationToken cancellationToken);

    /// <summary>
    /// Called right after the router has passed a batch of packets from the mesh to
    /// <see cref="Netmod.SendAsync"/> (SDK 1.9), on the thread that passed them and holding no
    /// lock, once per batch rather than once per packet. The machine may already have answered
    /// some of them while they were written (an echo reply, a TCP acknowledgement, more data for
    /// a TCP sender whose window just opened): an interface whose writes can produce packets at
    /// once may read those here and write them to <see cref="Netmod.Incoming"/> on this thread,
    /// instead of waking its own reader for them. It must not wait, neither for a packet nor for
    /// room in <see cref="Netmod.Incoming"/>, and must keep the order in which the machine sent
    /// its packets. Does nothing by default.
    /// </summary>
    void OnPacketsWritten()
    {
    }
}
