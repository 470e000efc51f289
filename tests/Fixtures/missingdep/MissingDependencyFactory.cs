using Router.Tests.Fixtures.Dependency;

namespace Router.Tests.Fixtures;

public sealed class MissingDependencyFactory : FixtureFactory
{
    public override string Name => Greeting.Name;
}
