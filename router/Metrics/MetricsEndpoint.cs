using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Router.Metrics;

/// <summary>
/// <c>GET /metrics</c>: the <see cref="RouterMetrics"/> instruments in the Prometheus text format
/// (version 0.0.4). A plain route, so any listener of the router (the API socket, the dashboard)
/// can serve it.
/// </summary>
internal static class MetricsEndpoint
{
    public const string Path = "/metrics";

    public static IEndpointConventionBuilder Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(Path, (RouterMetrics metrics) => Results.Text(metrics.Scrape(), PrometheusText.ContentType));
}
