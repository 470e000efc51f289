namespace Router.Tests.Fixtures;

public sealed class GoodFactory : FixtureFactory
{
    public override string Name => "good";
}
