namespace Router.Routing;

/// <summary>Routing timers and costs. Defaults are documented in docs/routing.md.</summary>
internal sealed record RoutingOptions
{
    /// <summary>How often each neighbour is sent a hello.</summary>
    public TimeSpan HelloInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the whole route table is sent to each neighbour.</summary>
    public TimeSpan UpdateInterval { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Cost every hop adds on top of its measured round-trip time.</summary>
    public ushort HopCost { get; init; } = 16;

    /// <summary>Hello misses in a row after which a neighbour is treated as gone.</summary>
    public int MissedHellosForLoss { get; init; } = 2;

    /// <summary>Most routes the table holds; updates for new destinations beyond it are ignored.</summary>
    public int MaxRoutes { get; init; } = 100_000;

    /// <summary>A learned route not refreshed for this many update intervals expires.</summary>
    public double RouteExpiryIntervals { get; init; } = 3.5;
}
