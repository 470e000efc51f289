using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Router.Identity;
using Router.Routing;
using Router.Sdk;
using Router.Sdk.Testing;

namespace Router.Tests.Overlay;

/// <summary>
/// The <see cref="PrefixTable"/>: longest-prefix match over announced prefixes and overlay
/// addresses, conflicts to the lowest router address, and what the IP interface routes into the mesh.
/// </summary>
public sealed class PrefixTableTests
{
    private const int ConflictEvent = 3101;
    private const int MalformedEvent = 3102;

    // Router addresses ordered by their first byte: Low < Self < High < Higher.
    private static readonly RouterAddress Low = Address(0x10);
    private static readonly RouterAddress Self = Address(0x50);
    private static readonly RouterAddress High = Address(0x90);
    private static readonly RouterAddress Higher = Address(0xd0);

    private static RouterAddress Address(byte first)
    {
        var bytes = new byte[RouterAddress.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(first + i);
        }

        return RouterAddress.Read(bytes);
    }

    private static IPNetwork P(string text) => IPNetwork.Parse(text);

    private static IPNetwork[] Prefixes(params string[] prefixes) => [.. prefixes.Select(P)];

    private static PrefixTable Table(ILogger<PrefixTable>? logger = null) => new(Self, logger ?? NullLogger<PrefixTable>.Instance);

    /// <summary>A selected route to <paramref name="destination"/> whose proof announces <paramref name="prefixes"/>.</summary>
    private static SelectedRoute Route(RouterAddress destination, params string[] prefixes)
    {
        var block = prefixes.Length == 0 ? null : AnnouncedPrefixes.TryEncode(Prefixes(prefixes), out _) ?? throw new ArgumentException("not announceable", nameof(prefixes));
        return RouteWithBlock(destination, block);
    }

    private static SelectedRoute RouteWithBlock(RouterAddress destination, byte[]? block)
    {
        var proof = new OriginProof(7, new byte[PublicKeys.SpkiLength], new byte[PublicKeys.SignatureLength], block);
        var neighbour = new RoutingNeighbour(destination, new object());
        return new SelectedRoute(destination, neighbour, 256, 7, TimeSpan.FromSeconds(1), proof);
    }

    private static byte[] Bytes(string address) => IPAddress.Parse(address).GetAddressBytes();

    private static byte[] Overlay(RouterAddress router) => OverlayAddress.For(router).GetAddressBytes();

    private static RouterAddress? Owner(PrefixSnapshot snapshot, byte[] address) =>
        snapshot.TryGetOwner(address, out var owner) ? owner : null;

    private static RouterAddress? Owner(PrefixSnapshot snapshot, string address) => Owner(snapshot, Bytes(address));

    private static string Name(RouterAddress router) =>
        router == Low ? "Low" : router == Self ? "Self" : router == High ? "High" : router == Higher ? "Higher" : router.ToShortString();

    /// <summary>"prefix owner [claimants]", to compare entries in one readable assertion.</summary>
    private static string Describe(PrefixEntry entry) =>
        $"{entry.Prefix} {Name(entry.Owner)} [{string.Join(", ", entry.Claimants.Select(Name))}]";

    [Fact]
    public void Lookup_IPv4_TakesTheLongestMatchingPrefix()
    {
        var table = Table();
        table.Publish([], [Route(Low, "10.0.0.0/8"), Route(High, "10.66.0.0/16"), Route(Higher, "10.66.1.0/24")]);
        var snapshot = table.Current;

        Assert.Equal(Higher, Owner(snapshot, "10.66.1.5"));
        Assert.Equal(Higher, Owner(snapshot, "10.66.1.0"));
        Assert.Equal(Higher, Owner(snapshot, "10.66.1.255"));
        Assert.Equal(High, Owner(snapshot, "10.66.0.255"));
        Assert.Equal(High, Owner(snapshot, "10.66.2.1"));
        Assert.Equal(High, Owner(snapshot, "10.66.255.255"));
        Assert.Equal(Low, Owner(snapshot, "10.67.1.5"));
        Assert.Equal(Low, Owner(snapshot, "10.0.0.0"));
        Assert.Equal(Low, Owner(snapshot, "10.255.255.255"));
        Assert.Null(Owner(snapshot, "11.0.0.0"));
        Assert.Null(Owner(snapshot, "9.255.255.255"));
        Assert.Null(Owner(snapshot, "192.168.1.1"));
    }

    [Fact]
    public void Lookup_IPv6_TakesTheLongestMatchingPrefix()
    {
        var table = Table();
        table.Publish([], [Route(Low, "2001:db8::/32"), Route(High, "2001:db8:66::/48"), Route(Higher, "2001:db8:66:1::/64", "2001:db8:66:1:0:0:0:7/128")]);
        var snapshot = table.Current;

        Assert.Equal(Higher, Owner(snapshot, "2001:db8:66:1::7"));
        Assert.Equal(Higher, Owner(snapshot, "2001:db8:66:1:ffff:ffff:ffff:ffff"));
        Assert.Equal(High, Owner(snapshot, "2001:db8:66:2::1"));
        Assert.Equal(High, Owner(snapshot, "2001:db8:66::"));
        Assert.Equal(Low, Owner(snapshot, "2001:db8:67::1"));
        Assert.Equal(Low, Owner(snapshot, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
        Assert.Null(Owner(snapshot, "2001:db9::1"));
        Assert.Null(Owner(snapshot, "fd00::1"));
    }

    [Fact]
    public void Lookup_PrefixLengthsThatAreNotWholeBytes_MatchBitByBit()
    {
        var table = Table();
        table.Publish([], [Route(Low, "172.16.0.0/12", "2001:db8:8000::/33"), Route(High, "172.16.0.0/13")]);
        var snapshot = table.Current;

        Assert.Equal(High, Owner(snapshot, "172.23.255.255"));
        Assert.Equal(Low, Owner(snapshot, "172.24.0.0"));
        Assert.Equal(Low, Owner(snapshot, "172.31.255.255"));
        Assert.Null(Owner(snapshot, "172.32.0.0"));
        Assert.Null(Owner(snapshot, "172.15.255.255"));
        Assert.Equal(Low, Owner(snapshot, "2001:db8:8000::1"));
        Assert.Equal(Low, Owner(snapshot, "2001:db8:ffff::1"));
        Assert.Null(Owner(snapshot, "2001:db8:7fff::1"));
    }

    [Fact]
    public void Lookup_IPv4DefaultRoute_CatchesEveryIPv4AddressButNoIPv6()
    {
        var table = Table();
        table.Publish([], [Route(Low, "0.0.0.0/0"), Route(High, "10.66.1.0/24")]);
        var snapshot = table.Current;

        Assert.Equal(Low, Owner(snapshot, "0.0.0.0"));
        Assert.Equal(Low, Owner(snapshot, "8.8.8.8"));
        Assert.Equal(Low, Owner(snapshot, "255.255.255.255"));
        Assert.Equal(High, Owner(snapshot, "10.66.1.1"));
        Assert.Null(Owner(snapshot, "2001:db8::1"));
    }

    [Fact]
    public void Lookup_OwnIPv4DefaultRoute_IsLocal()
    {
        var table = Table();
        table.Publish(Prefixes("0.0.0.0/0"), [Route(High, "10.66.1.0/24")]);
        var snapshot = table.Current;

        Assert.True(snapshot.IsLocal(Bytes("8.8.8.8")));
        Assert.False(snapshot.IsLocal(Bytes("10.66.1.1")));
        Assert.Equal(Prefixes("10.66.1.0/24"), snapshot.MeshPrefixes);
    }

    [Fact]
    public void Lookup_IPv6DefaultRoute_CatchesIPv6ButNotOverlayAddressesOfKnownRouters()
    {
        var table = Table();
        table.Publish([], [Route(Low, "::/0"), Route(High)]);
        var snapshot = table.Current;

        Assert.Equal(Low, Owner(snapshot, "2001:db8::1"));
        Assert.Equal(High, Owner(snapshot, Overlay(High)));
        Assert.Equal(Prefixes("::/0"), snapshot.MeshPrefixes);

        // An overlay address no router has is nobody's, not the default route's.
        var unknown = RouterAddress.Parse(new string('7', 64));
        Assert.False(snapshot.TryGetOwner(OverlayAddress.For(unknown).GetAddressBytes(), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(15)]
    [InlineData(17)]
    public void Lookup_AddressOfNeitherFamilyLength_FindsNothing(int length)
    {
        var table = Table();
        table.Publish(Prefixes("0.0.0.0/0"), [Route(Low, "0.0.0.0/0")]);

        Assert.False(table.Current.TryGetOwner(new byte[length], out var owner));
        Assert.Equal(RouterAddress.None, owner);
        Assert.False(table.Current.IsLocal(new byte[length]));
    }

    [Fact]
    public void Lookup_NoMatch_IsFalseWithNoOwner()
    {
        var table = Table();
        table.Publish([], [Route(Low, "10.0.0.0/8")]);

        Assert.False(table.Current.TryGetOwner(Bytes("192.0.2.1"), out var owner));
        Assert.Equal(RouterAddress.None, owner);
        Assert.False(table.Current.IsLocal(Bytes("192.0.2.1")));
    }

    [Fact]
    public void Lookup_OverlayAddress_OfAReachableRouterResolvesToIt()
    {
        var table = Table();
        table.Publish([], [Route(Low), Route(High, "10.66.1.0/24")]);
        var snapshot = table.Current;

        Assert.Equal(Low, Owner(snapshot, Overlay(Low)));
        Assert.Equal(High, Owner(snapshot, Overlay(High)));
        Assert.Null(Owner(snapshot, Overlay(Higher)));
        Assert.False(snapshot.IsLocal(Overlay(Low)));
        Assert.Equal(3, snapshot.RouterCount);

        // Only the exact /128: the next address in the overlay prefix belongs to no one.
        var next = Overlay(Low);
        next[15] ^= 1;
        Assert.Null(Owner(snapshot, next));
    }

    [Fact]
    public void Lookup_OverlayAddress_OfARouterNoLongerReachableIsGone()
    {
        var table = Table();
        table.Publish([], [Route(Low, "10.66.1.0/24"), Route(High)]);
        table.Publish([], [Route(High)]);
        var snapshot = table.Current;

        Assert.Null(Owner(snapshot, Overlay(Low)));
        Assert.Null(Owner(snapshot, "10.66.1.1"));
        Assert.Equal(High, Owner(snapshot, Overlay(High)));
        Assert.Empty(snapshot.Entries);
        Assert.Equal(2, snapshot.RouterCount);
    }

    [Fact]
    public void Lookup_OwnOverlayAddress_IsLocalFromTheStart()
    {
        var table = Table();

        Assert.True(table.Current.IsLocal(Overlay(Self)));
        Assert.Equal(Self, Owner(table.Current, Overlay(Self)));
        Assert.Equal(1, table.Current.RouterCount);
        Assert.Empty(table.Current.Entries);
        Assert.Empty(table.Current.MeshPrefixes);

        table.Publish([], [Route(Low)]);

        Assert.True(table.Current.IsLocal(Overlay(Self)));
        Assert.Equal(Self, table.Self);
    }

    [Fact]
    public void Lookup_OwnPrefixes_AreLocal()
    {
        var table = Table();
        table.Publish(Prefixes("10.66.1.0/24", "fd00:66::/64"), [Route(High, "10.66.0.0/16", "fd00:66::/48")]);
        var snapshot = table.Current;

        Assert.True(snapshot.IsLocal(Bytes("10.66.1.9")));
        Assert.True(snapshot.IsLocal(Bytes("fd00:66::9")));
        Assert.False(snapshot.IsLocal(Bytes("10.66.2.9")));
        Assert.False(snapshot.IsLocal(Bytes("fd00:66:0:1::9")));
        Assert.Equal(High, Owner(snapshot, "10.66.2.9"));
        Assert.Equal(Prefixes("10.66.0.0/16", "fd00:66::/48"), snapshot.MeshPrefixes);
    }

    [Fact]
    public void Entries_ListEveryAnnouncedPrefixInCanonicalOrderWithItsOwner()
    {
        var table = Table();
        table.Publish(Prefixes("fd00:66::/64", "10.66.1.0/24"), [Route(High, "fd00:1::/32", "10.66.2.0/24"), Route(Low, "10.0.0.0/8")]);
        var snapshot = table.Current;

        Assert.Equal(
            ["10.0.0.0/8 Low [Low]", "10.66.1.0/24 Self [Self]", "10.66.2.0/24 High [High]", "fd00:1::/32 High [High]", "fd00:66::/64 Self [Self]"],
            snapshot.Entries.Select(Describe));
        Assert.All(snapshot.Entries, e => Assert.False(e.IsConflict));
        Assert.Empty(snapshot.Conflicts);
        Assert.Equal(Prefixes("10.0.0.0/8", "10.66.2.0/24", "fd00:1::/32"), snapshot.MeshPrefixes);
    }

    [Fact]
    public void Conflict_TheLowestRouterAddressGetsThePrefix_WhateverTheOrderOfTheRoutes()
    {
        var routes = new[] { Route(Higher, "10.66.1.0/24", "fd00:1::/32"), Route(Low, "10.66.1.0/24", "fd00:1::/32"), Route(High, "10.66.1.0/24", "fd00:1::/32") };
        var random = new Random(3);

        for (var i = 0; i < 12; i++)
        {
            var shuffled = routes.ToArray();
            random.Shuffle(shuffled);
            var table = Table();
            table.Publish([], shuffled);
            var snapshot = table.Current;

            Assert.Equal(Low, Owner(snapshot, "10.66.1.1"));
            Assert.Equal(Low, Owner(snapshot, "fd00:1::1"));
            Assert.Equal(2, snapshot.Conflicts.Count);
            Assert.All(snapshot.Conflicts, c => Assert.True(c.IsConflict));
            Assert.Equal(["10.66.1.0/24 Low [Low, High, Higher]", "fd00:1::/32 Low [Low, High, Higher]"], snapshot.Conflicts.Select(Describe));
            Assert.Equal(snapshot.Conflicts, snapshot.Entries);
            Assert.Equal(Prefixes("10.66.1.0/24", "fd00:1::/32"), snapshot.MeshPrefixes);
        }
    }

    [Fact]
    public void Conflict_WithThisRouter_LowerOtherRouterWins()
    {
        var table = Table();
        table.Publish(Prefixes("10.66.1.0/24", "10.66.2.0/24"), [Route(Low, "10.66.1.0/24"), Route(High, "10.66.2.0/24", "10.66.3.0/24")]);
        var snapshot = table.Current;

        // Low < Self: Low gets 10.66.1.0/24; Self < High: Self keeps 10.66.2.0/24.
        Assert.Equal(Low, Owner(snapshot, "10.66.1.1"));
        Assert.False(snapshot.IsLocal(Bytes("10.66.1.1")));
        Assert.True(snapshot.IsLocal(Bytes("10.66.2.1")));
        Assert.Equal(High, Owner(snapshot, "10.66.3.1"));
        Assert.Equal(["10.66.1.0/24 Low [Low, Self]", "10.66.2.0/24 Self [Self, High]"], snapshot.Conflicts.Select(Describe));

        // Neither conflict goes to the interface: this router claims both itself (won or lost).
        Assert.Equal(Prefixes("10.66.3.0/24"), snapshot.MeshPrefixes);
    }

    [Fact]
    public void Conflict_SamePrefixTwiceFromOneRouter_IsNoConflict()
    {
        var table = Table();
        table.Publish(Prefixes("10.66.1.0/24", "10.66.1.0/24"), []);

        Assert.Equal("10.66.1.0/24 Self [Self]", Describe(Assert.Single(table.Current.Entries)));
        Assert.Empty(table.Current.Conflicts);
    }

    [Fact]
    public void Conflict_IsLoggedOnceUntilItGoesAwayAndComesBack()
    {
        var logs = new CapturingLoggerProvider();
        var table = Table(new Logger<PrefixTable>(logs));
        int Warnings() => logs.Entries.Count(e => e.Id.Id == ConflictEvent);

        table.Publish([], [Route(Low, "10.66.1.0/24"), Route(High, "10.66.1.0/24")]);
        Assert.Equal(1, Warnings());
        var warning = logs.Entries.Single(e => e.Id.Id == ConflictEvent);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("10.66.1.0/24", warning.Message, StringComparison.Ordinal);
        Assert.Contains(Low.ToShortString(), warning.Message, StringComparison.Ordinal);
        Assert.Contains(High.ToShortString(), warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("this router", warning.Message, StringComparison.Ordinal);

        table.Publish([], [Route(Low, "10.66.1.0/24"), Route(High, "10.66.1.0/24")]);
        table.Publish([], [Route(High, "10.66.1.0/24"), Route(Low, "10.66.1.0/24")]);
        Assert.Equal(1, Warnings());

        table.Publish([], [Route(Low, "10.66.1.0/24"), Route(High, "10.66.2.0/24")]);
        Assert.Equal(1, Warnings());

        table.Publish([], [Route(Low, "10.66.1.0/24"), Route(High, "10.66.1.0/24")]);
        Assert.Equal(2, Warnings());
    }

    [Fact]
    public void Conflict_IsLoggedOncePerLosingRouter()
    {
        var logs = new CapturingLoggerProvider();
        var table = Table(new Logger<PrefixTable>(logs));

        table.Publish(Prefixes("10.66.1.0/24"), [Route(Low, "10.66.1.0/24"), Route(High, "10.66.1.0/24")]);

        var warnings = logs.Entries.Where(e => e.Id.Id == ConflictEvent).Select(e => e.Message).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Single(warnings, m => m.Contains("(this router)", StringComparison.Ordinal));

        // A third router joining the same conflict is one new warning, not three.
        table.Publish(Prefixes("10.66.1.0/24"), [Route(Low, "10.66.1.0/24"), Route(High, "10.66.1.0/24"), Route(Higher, "10.66.1.0/24")]);
        Assert.Equal(3, logs.Entries.Count(e => e.Id.Id == ConflictEvent));
    }

    [Fact]
    public void OverlayRange_PrefixesInsideItAreIgnored()
    {
        var table = Table();
        var highOverlay = new IPNetwork(OverlayAddress.For(High), 128).ToString();
        table.Publish(
            Prefixes("fd6d:1::/32", "10.66.1.0/24"),
            [Route(Low, "fd6d::/16", "fd6d:ffff::/32", highOverlay, "10.66.2.0/24"), Route(High)]);
        var snapshot = table.Current;

        // Low's address is lower than High's, but High's overlay address is still High's.
        Assert.Equal(High, Owner(snapshot, Overlay(High)));
        Assert.Null(Owner(snapshot, "fd6d:ffff::1"));
        Assert.Null(Owner(snapshot, "fd6d:1::1"));
        Assert.Null(Owner(snapshot, Overlay(Higher)));
        Assert.Equal(Prefixes("10.66.1.0/24", "10.66.2.0/24"), snapshot.Entries.Select(e => e.Prefix));
        Assert.Empty(snapshot.Conflicts);
        Assert.Equal(Prefixes("10.66.2.0/24"), snapshot.MeshPrefixes);
        Assert.Equal(0, table.MalformedPrefixBlocks);
    }

    [Fact]
    public void OverlayRange_NeighbouringPrefixesStillCount()
    {
        var table = Table();
        table.Publish([], [Route(Low, "fd6c::/16", "fd6e::/16")]);

        Assert.Equal(Low, Owner(table.Current, "fd6c::1"));
        Assert.Equal(Low, Owner(table.Current, "fd6e::1"));
        Assert.Null(Owner(table.Current, "fd6d::1"));
    }

    [Fact]
    public void MalformedBlock_IsCountedAndTheRouteStillGivesItsOverlayAddress()
    {
        var logs = new CapturingLoggerProvider();
        var table = Table(new Logger<PrefixTable>(logs));
        var malformed = RouteWithBlock(Low, Convert.FromHexString("0105000A")); // family 5
        var good = Route(High, "10.66.1.0/24");

        table.Publish([], [malformed, good]);

        Assert.Equal(1, table.MalformedPrefixBlocks);
        Assert.Single(logs.Entries, e => e.Id.Id == MalformedEvent && e.Message.Contains(Low.ToShortString(), StringComparison.Ordinal));
        Assert.Equal(Low, Owner(table.Current, Overlay(Low)));
        Assert.Equal(High, Owner(table.Current, "10.66.1.1"));
        Assert.Equal(3, table.Current.RouterCount);
        Assert.Equal(Prefixes("10.66.1.0/24"), table.Current.Entries.Select(e => e.Prefix));

        // The same proof again (the routing service republishes on every route change) is not a new malformed block.
        table.Publish([], [malformed, good]);
        Assert.Equal(1, table.MalformedPrefixBlocks);
        Assert.Equal(Low, Owner(table.Current, Overlay(Low)));

        // A new proof with a bad block is.
        table.Publish([], [RouteWithBlock(Low, Convert.FromHexString("02 0418 0A4201 0418 0A4201".Replace(" ", "", StringComparison.Ordinal))), good]);
        Assert.Equal(2, table.MalformedPrefixBlocks);
    }

    [Fact]
    public void MalformedBlock_WithValidLookingPrefixes_ContributesNone()
    {
        var table = Table();
        // 10.66.1.0/24 then a trailing byte: not canonical, so not even the first prefix counts.
        table.Publish([], [RouteWithBlock(Low, Convert.FromHexString("010418" + "0A4201" + "00"))]);

        Assert.Equal(1, table.MalformedPrefixBlocks);
        Assert.Null(Owner(table.Current, "10.66.1.1"));
        Assert.Empty(table.Current.Entries);
    }

    [Fact]
    public void RouteWithoutProof_GivesItsOverlayAddressOnly()
    {
        var table = Table();
        var route = Route(Low, "10.66.1.0/24") with { Proof = null };

        table.Publish([], [route]);

        Assert.Equal(Low, Owner(table.Current, Overlay(Low)));
        Assert.Empty(table.Current.Entries);
        Assert.Equal(0, table.MalformedPrefixBlocks);
    }

    [Fact]
    public async Task Changed_CompletesAtTheNextPublish()
    {
        var table = Table();
        var changed = table.Changed;
        Assert.False(changed.IsCompleted);

        table.Publish([], [Route(Low, "10.66.1.0/24")]);

        await changed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Low, Owner(table.Current, "10.66.1.1"));
        var next = table.Changed;
        Assert.NotSame(changed, next);
        Assert.False(next.IsCompleted);

        table.Publish([], []);

        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Null(Owner(table.Current, "10.66.1.1"));
    }

    [Fact]
    public void Publish_ReplacesTheSnapshotAndLeavesTheOldOneAsItWas()
    {
        var table = Table();
        table.Publish([], [Route(Low, "10.66.1.0/24")]);
        var before = table.Current;

        table.Publish([], [Route(High, "10.66.1.0/24")]);

        Assert.NotSame(before, table.Current);
        Assert.Equal(Low, Owner(before, "10.66.1.1"));
        Assert.Equal(High, Owner(table.Current, "10.66.1.1"));
    }

    [OptimizedFact]
    public void TryGetOwner_AllocatesNothing()
    {
        var table = Table();
        table.Publish(
            Prefixes("10.66.1.0/24", "fd00:66::/64"),
            [
                Route(Low, "0.0.0.0/0", "10.0.0.0/8", "2001:db8::/32"),
                Route(High, "10.66.0.0/16", "172.16.0.0/12", "2001:db8:66::/48"),
                Route(Higher, "192.168.1.0/24", "2001:db8:66:1::/64"),
            ]);
        var snapshot = table.Current;
        byte[][] addresses =
        [
            Bytes("10.66.1.1"), Bytes("10.66.2.1"), Bytes("10.1.1.1"), Bytes("8.8.8.8"), Bytes("192.168.1.9"),
            Bytes("2001:db8:66:1::1"), Bytes("2001:db8:66:2::1"), Bytes("2001:db8:1::1"), Bytes("fd00:66::1"),
            Bytes("2001:db9::1"), Overlay(Self), Overlay(Low), Overlay(Higher), new byte[5],
        ];

        long Lookups(int count)
        {
            long found = 0;
            for (var i = 0; i < count; i++)
            {
                // No Assert in the loop: xunit's Assert allocates.
                if (snapshot.TryGetOwner(addresses[i % addresses.Length], out var owner) && !owner.IsNone)
                {
                    found++;
                }
            }

            return found;
        }

        var warm = Lookups(10_000); // warm up tiered compilation
        var before = GC.GetAllocatedBytesForCurrentThread();
        var found = Lookups(10_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // 12 of the 14 addresses have an owner (not 2001:db9::1, not the 5-byte one).
        Assert.Equal(10_000 - 714 - 714, found);
        Assert.Equal(warm, found);
        // Any allocation per lookup would be at least 24 bytes each, 240,000 in all; a few
        // hundred bytes are one-off runtime work on this thread, not the lookup.
        Assert.True(allocated < 1_000, $"10,000 lookups allocated {allocated} bytes");
    }
}
