using Router.Sdk;

namespace Router.Tests.Fixtures;

/// <summary>Uses the SDK, yet offers no INetmodFactory.</summary>
public static class NotANetmod
{
    public static string Describe(RouterAddress address) => address.ToShortString();
}
