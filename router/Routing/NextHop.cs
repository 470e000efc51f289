using Router.Hosting;
using Router.Sdk;

namespace Router.Routing;

/// <summary>Where to send a frame next: a neighbour on a netmod. Immutable.</summary>
internal sealed record NextHop(NetmodInstance Netmod, NeighbourId Neighbour, RouterAddress Address);
