using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Routing;

/// <summary>An announced prefix and the router that gets its packets.</summary>
/// <param name="Prefix">The prefix.</param>
/// <param name="Owner">The router packets to it go to: the announcing router with the lowest address when several announce it.</param>
/// <param name="Claimants">Every router that announces it, lowest address first (more than one: a conflict).</param>
internal sealed record PrefixEntry(IPNetwork Prefix, RouterAddress Owner, IReadOnlyList<RouterAddress> Claimants)
{
    public bool IsConflict => Claimants.Count > 1;
}

/// <summary>
/// IP destination → the router that serves it, by longest-prefix match. Holds every reachable
/// router's overlay address (a /128 in <see cref="OverlayAddress.Prefix"/>) and every prefix the
/// routers announce (signed with their routes, <see cref="AnnouncedPrefixes"/>), this router's
/// own included. When several routers announce the same prefix, the one with the lowest router
/// address gets it — a rule every router applies alike, so they all agree — and the conflict
/// is listed (<see cref="PrefixSnapshot.Conflicts"/>, <c>router status</c>) and logged once.
/// Read for every packet without a lock: an immutable <see cref="PrefixSnapshot"/> replaced
/// whole by <see cref="Publish"/>, which only the routing service calls.
/// </summary>
internal sealed partial class PrefixTable(RouterAddress self, ILogger<PrefixTable> logger)
{
    private readonly List<IPNetwork> _scratch = [];
    private Dictionary<OriginProof, IPNetwork[]> _decoded = new(ReferenceEqualityComparer.Instance);
    private HashSet<(IPNetwork, RouterAddress)> _reportedConflicts = [];
    private volatile PrefixSnapshot _current = PrefixSnapshot.Empty(self);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _malformedBlocks;

    public RouterAddress Self => self;

    public PrefixSnapshot Current => _current;

    /// <summary>Completes at the next <see cref="Publish"/>.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    /// <summary>Routes whose signed prefix block was not in canonical form (their prefixes are ignored; the route itself stands).</summary>
    public long MalformedPrefixBlocks => Interlocked.Read(ref _malformedBlocks);

    /// <summary>Rebuilds the table from this router's own prefixes and the selected routes. One caller at a time.</summary>
    public void Publish(IReadOnlyList<IPNetwork> own, IEnumerable<SelectedRoute> routes)
    {
        var claims = new Dictionary<IPNetwork, List<RouterAddress>>();
        var hosts = new List<(IPNetwork, RouterAddress)> { (HostRoute(self), self) };
        foreach (var prefix in own.Where(p => !InOverlayRange(p)))
        {
            Claim(claims, prefix, self);
        }

        var decoded = new Dictionary<OriginProof, IPNetwork[]>(ReferenceEqualityComparer.Instance);
        foreach (var route in routes)
        {
            hosts.Add((HostRoute(route.Destination), route.Destination));
            if (route.Proof is not { } proof || proof.PrefixBlock is [0])
            {
                continue;
            }

            if (!_decoded.TryGetValue(proof, out var prefixes))
            {
                if (AnnouncedPrefixes.TryDecode(proof.PrefixBlock, _scratch))
                {
                    // Nothing inside the overlay range is announceable: those addresses belong to keys.
                    prefixes = [.. _scratch.Where(p => !InOverlayRange(p))];
                }
                else
                {
                    prefixes = [];
                    Interlocked.Increment(ref _malformedBlocks);
                    Log.MalformedBlock(logger, route.Destination.ToShortString());
                }
            }

            decoded[proof] = prefixes;
            foreach (var prefix in prefixes)
            {
                Claim(claims, prefix, route.Destination);
            }
        }

        _decoded = decoded;
        var entries = claims.Select(c =>
        {
            c.Value.Sort();
            return new PrefixEntry(c.Key, c.Value[0], c.Value);
        }).ToList();
        entries.Sort((a, b) => AnnouncedPrefixes.Compare(a.Prefix, b.Prefix));
        ReportConflicts(entries);

        _current = new PrefixSnapshot(self, entries, hosts);
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    private static void Claim(Dictionary<IPNetwork, List<RouterAddress>> claims, IPNetwork prefix, RouterAddress router)
    {
        if (!claims.TryGetValue(prefix, out var list))
        {
            claims[prefix] = list = [];
        }

        if (!list.Contains(router))
        {
            list.Add(router);
        }
    }

    private void ReportConflicts(List<PrefixEntry> entries)
    {
        var now = new HashSet<(IPNetwork, RouterAddress)>();
        foreach (var entry in entries.Where(e => e.IsConflict))
        {
            foreach (var loser in entry.Claimants.Skip(1))
            {
                now.Add((entry.Prefix, loser));
                if (!_reportedConflicts.Contains((entry.Prefix, loser)))
                {
                    Log.Conflict(logger, entry.Prefix.ToString(), loser.ToShortString(), entry.Owner.ToShortString(), loser == self ? " (this router)" : "");
                }
            }
        }

        _reportedConflicts = now;
    }

    /// <summary>The /128 of <paramref name="router"/>'s overlay address.</summary>
    public static IPNetwork HostRoute(RouterAddress router) => new(OverlayAddress.For(router), 128);

    /// <summary>
    /// Whether <paramref name="prefix"/> lies inside <see cref="OverlayAddress.Prefix"/> (which only
    /// keys' overlay addresses may occupy). Shorter prefixes around it, such as <c>::/0</c> or
    /// <c>fd00::/8</c>, are fine: overlay addresses are looked up among overlay addresses only.
    /// </summary>
    public static bool InOverlayRange(IPNetwork prefix) =>
        prefix.PrefixLength >= OverlayAddress.PrefixLength && OverlayAddress.Prefix.Contains(prefix.BaseAddress);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Prefix {Prefix} is announced by {Loser}{Self} and by {Owner}; packets to it go to {Owner} (the lowest router address wins)")]
        public static partial void Conflict(ILogger logger, string prefix, string loser, string owner, string self);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Router {Origin} announces a malformed prefix block; its prefixes are ignored")]
        public static partial void MalformedBlock(ILogger logger, string origin);
    }
}

/// <summary>
/// One immutable state of the <see cref="PrefixTable"/>: per address family, one hash table per
/// prefix length present, searched from the longest; a lookup allocates nothing.
/// </summary>
internal sealed class PrefixSnapshot
{
    private readonly RouterAddress _self;
    private readonly Level<uint>[] _v4;
    private readonly Level<UInt128>[] _v6;
    private readonly FrozenDictionary<UInt128, RouterAddress> _overlay;

    public PrefixSnapshot(RouterAddress self, IReadOnlyList<PrefixEntry> entries, IReadOnlyList<(IPNetwork Prefix, RouterAddress Router)> hosts)
    {
        _self = self;
        Entries = entries;
        Conflicts = [.. entries.Where(e => e.IsConflict)];
        MeshPrefixes = [.. entries.Where(e => !e.Claimants.Contains(self)).Select(e => e.Prefix)];
        var all = entries.Select(e => (e.Prefix, e.Owner)).ToList();
        _v4 = LevelsV4(all);
        _v6 = LevelsV6(all);
        _overlay = hosts
            .GroupBy(h => BinaryPrimitives.ReadUInt128BigEndian(h.Prefix.BaseAddress.GetAddressBytes()))
            .ToFrozenDictionary(g => g.Key, g => g.First().Router);
        RouterCount = _overlay.Count;
    }

    public static PrefixSnapshot Empty(RouterAddress self) => new(self, [], [(PrefixTable.HostRoute(self), self)]);

    /// <summary>Every announced prefix (overlay addresses not included), in canonical order.</summary>
    public IReadOnlyList<PrefixEntry> Entries { get; }

    /// <summary>The prefixes announced by more than one router.</summary>
    public IReadOnlyList<PrefixEntry> Conflicts { get; }

    /// <summary>Prefixes that other routers serve and this router does not announce itself: what the IP interface routes into the mesh.</summary>
    public IReadOnlyList<IPNetwork> MeshPrefixes { get; }

    /// <summary>Routers with an overlay address in the table, this one included.</summary>
    public int RouterCount { get; }

    /// <summary>
    /// The router that serves the IPv4 (4 bytes) or IPv6 (16 bytes) address
    /// <paramref name="address"/>, by longest-prefix match; false when none does.
    /// </summary>
    public bool TryGetOwner(ReadOnlySpan<byte> address, out RouterAddress owner)
    {
        owner = default;
        if (address.Length == 4)
        {
            var value = BinaryPrimitives.ReadUInt32BigEndian(address);
            foreach (var level in _v4)
            {
                if (level.Table.TryGetValue(value & level.Mask, out owner))
                {
                    return true;
                }
            }
        }
        else if (address.Length == 16)
        {
            var value = BinaryPrimitives.ReadUInt128BigEndian(address);
            if ((ushort)(value >> 112) == OverlayAddress.PrefixValue)
            {
                // An overlay address belongs to one key: its router or nobody, never a shorter prefix.
                return _overlay.TryGetValue(value, out owner);
            }

            foreach (var level in _v6)
            {
                if (level.Table.TryGetValue(value & level.Mask, out owner))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="address"/> is served by this router (its overlay address or a prefix it won).</summary>
    public bool IsLocal(ReadOnlySpan<byte> address) => TryGetOwner(address, out var owner) && owner == _self;

    private static Level<uint>[] LevelsV4(List<(IPNetwork Prefix, RouterAddress Router)> all) =>
        [.. all
            .Where(e => e.Prefix.BaseAddress.AddressFamily == AddressFamily.InterNetwork)
            .GroupBy(e => e.Prefix.PrefixLength)
            .OrderByDescending(g => g.Key)
            .Select(g => new Level<uint>(
                g.Key == 0 ? 0 : uint.MaxValue << (32 - g.Key),
                g.GroupBy(e => BinaryPrimitives.ReadUInt32BigEndian(e.Prefix.BaseAddress.GetAddressBytes())).ToFrozenDictionary(x => x.Key, x => x.First().Router)))];

    private static Level<UInt128>[] LevelsV6(List<(IPNetwork Prefix, RouterAddress Router)> all) =>
        [.. all
            .Where(e => e.Prefix.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
            .GroupBy(e => e.Prefix.PrefixLength)
            .OrderByDescending(g => g.Key)
            .Select(g => new Level<UInt128>(
                g.Key == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - g.Key),
                g.GroupBy(e => BinaryPrimitives.ReadUInt128BigEndian(e.Prefix.BaseAddress.GetAddressBytes())).ToFrozenDictionary(x => x.Key, x => x.First().Router)))];

    private sealed record Level<T>(T Mask, FrozenDictionary<T, RouterAddress> Table)
        where T : notnull;
}
