namespace Router.Tests.Fixtures;

/// <summary>Claims the name of the "good" fixture.</summary>
public sealed class DuplicateFactory : FixtureFactory
{
    public override string Name => "good";
}
