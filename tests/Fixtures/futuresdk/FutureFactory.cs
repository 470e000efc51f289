namespace Router.Tests.Fixtures;

public sealed class FutureFactory : FixtureFactory
{
    public override string Name => "future";
}
