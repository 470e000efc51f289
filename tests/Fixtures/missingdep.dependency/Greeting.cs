namespace Router.Tests.Fixtures.Dependency;

public static class Greeting
{
    public static string Name => "missingdep";
}
