using Router.Sdk;

namespace Router.Netmods.Inet.Tests;

/// <summary>The duplicate-link rule, checked as both routers apply it.</summary>
public sealed class RoutesTests
{
    [Fact]
    public void Decide_ConnectionsDialledByEachSide_BothSidesKeepTheOneDialledByTheLowerAddress()
    {
        for (var i = 0; i < 200; i++)
        {
            var a = NetmodTestContext.RandomAddress();
            var b = NetmodTestContext.RandomAddress();
            var lower = a < b ? a : b;

            // Connection "fromA" was dialled by a, "fromB" by b: on a, fromA is outbound; on b,
            // fromA is inbound. Each router may see them complete in either order; whichever
            // order, both must keep the same one, the one the lower address dialled.
            foreach (var aSeesFromAFirst in new[] { true, false })
            {
                foreach (var bSeesFromAFirst in new[] { true, false })
                {
                    var keptByA = Kept(a, b, firstInbound: !aSeesFromAFirst, firstIsFromA: aSeesFromAFirst);
                    var keptByB = Kept(b, a, firstInbound: bSeesFromAFirst, firstIsFromA: bSeesFromAFirst);
                    Assert.Equal(keptByA, keptByB);
                    Assert.Equal(lower == a ? "fromA" : "fromB", keptByA);
                }
            }
        }
    }

    [Fact]
    public void Decide_BothDialledByUs_KeepsTheExistingOne()
    {
        var (local, remote) = (NetmodTestContext.RandomAddress(), NetmodTestContext.RandomAddress());

        Assert.Equal(DuplicateDecision.KeepExisting, Routes.Decide(local, remote, existingInbound: false, existingPeerRetired: false, newInbound: false));
    }

    [Fact]
    public void Decide_BothDialledByThePeer_NewTakesOverAndExistingWaitsInReserve()
    {
        var (local, remote) = (NetmodTestContext.RandomAddress(), NetmodTestContext.RandomAddress());

        Assert.Equal(DuplicateDecision.DemoteExisting, Routes.Decide(local, remote, existingInbound: true, existingPeerRetired: false, newInbound: true));
    }

    [Fact]
    public void Decide_ExistingRetiredByThePeer_IsReplacedWhateverDialledIt()
    {
        var (local, remote) = (NetmodTestContext.RandomAddress(), NetmodTestContext.RandomAddress());
        foreach (var existingInbound in new[] { true, false })
        {
            foreach (var newInbound in new[] { true, false })
            {
                Assert.Equal(DuplicateDecision.ReplaceExisting, Routes.Decide(local, remote, existingInbound, existingPeerRetired: true, newInbound));
            }
        }
    }

    /// <summary>Which connection <paramref name="local"/> keeps after both registered.</summary>
    private static string Kept(RouterAddress local, RouterAddress remote, bool firstInbound, bool firstIsFromA)
    {
        var decision = Routes.Decide(local, remote, existingInbound: firstInbound, existingPeerRetired: false, newInbound: !firstInbound);
        Assert.NotEqual(DuplicateDecision.DemoteExisting, decision);
        var keptFirst = decision == DuplicateDecision.KeepExisting;
        return keptFirst == firstIsFromA ? "fromA" : "fromB";
    }
}
