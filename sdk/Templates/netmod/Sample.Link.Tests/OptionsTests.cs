using Router.Sdk.Testing;

namespace Sample.Link.Tests;

/// <summary>The factory's validation: what <c>router --check</c> prints for this netmod's section.</summary>
public sealed class OptionsTests
{
    [Fact]
    public void Validate_EmptySection_HasNoProblems()
    {
        var section = NetmodTestContext.Section(SampleLinkFactory.NetmodName, []);

        Assert.Empty(new SampleLinkFactory().Validate(section));
    }

    [Fact]
    public void Validate_BadValues_ReportsEachOneByKey()
    {
        var section = NetmodTestContext.Section(SampleLinkFactory.NetmodName, new Dictionary<string, string?>
        {
            ["Listen"] = "example.org:5880",
            ["Peers:0"] = "no-port",
            ["MaxFrameSize"] = "100",
            ["HelloSeconds"] = "2",
            ["DeadPeerSeconds"] = "1",
            ["Colour"] = "blue",
        });

        var problems = new SampleLinkFactory().Validate(section).ToList();

        Assert.Equal(5, problems.Count);
        foreach (var key in new[] { "Listen", "Peers[0]", "MaxFrameSize", "DeadPeerSeconds", "Colour" })
        {
            Assert.Contains(problems, p => p.StartsWith($"Netmods:{SampleLinkFactory.NetmodName}:{key}", StringComparison.Ordinal));
        }
    }
}
