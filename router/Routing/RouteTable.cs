using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Router.Sdk;

namespace Router.Routing;

/// <summary>
/// Destination router → next hop. Read on every forwarded frame, written when routes change.
/// Readers take no lock: the table is an immutable snapshot replaced whole by
/// <see cref="Publish"/>, so a reader sees either the old table or the new one, never a mix.
/// Writers are serialised by their owner (<see cref="NeighbourTable"/> today, the routing
/// protocol later).
/// </summary>
internal sealed class RouteTable
{
    private volatile FrozenDictionary<RouterAddress, NextHop> _routes = FrozenDictionary<RouterAddress, NextHop>.Empty;

    public int Count => _routes.Count;

    public bool TryGetNextHop(RouterAddress destination, [MaybeNullWhen(false)] out NextHop nextHop) =>
        _routes.TryGetValue(destination, out nextHop);

    /// <summary>Replaces every route at once.</summary>
    public void Publish(IEnumerable<KeyValuePair<RouterAddress, NextHop>> routes) =>
        _routes = routes.ToFrozenDictionary();

    /// <summary>The current routes, for status and the CLI.</summary>
    public IReadOnlyDictionary<RouterAddress, NextHop> Snapshot() => _routes;
}
