using Router.Sdk;

namespace Router.Tests.Fixtures;

/// <summary>A netmod whose start fails, like one whose port is taken.</summary>
public sealed class ThrowingFactory : FixtureFactory
{
    public override string Name => "throwing";

    public override Netmod Create(NetmodContext context) =>
        new FixtureNetmod(Name, () => throw new InvalidOperationException("fixture failure: the throwing netmod always fails to start"));
}
