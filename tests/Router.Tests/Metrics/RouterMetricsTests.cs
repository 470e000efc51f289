using System.Diagnostics.Tracing;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Router.Api;
using Router.Hosting;
using Router.Identity;
using Router.Metrics;
using Router.Overlay;
using Router.Routing;
using Router.Sdk.Testing;
using Router.Security.Links;
using Router.Security.Sessions;
using Router.Switching;
using Router.Tests.Security;

namespace Router.Tests.Metrics;

/// <summary>The router's meter over two router cores in this process, joined by a simulated link.</summary>
[Collection(CpuHeavyCollection.Name)]
public sealed partial class RouterMetricsTests : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(15);
    private readonly SimulatedNetwork _network = new(TimeProvider.System, seed: 7);
    private readonly SecureMesh _mesh = new();
    private RouterNode _a = null!;
    private RouterNode _b = null!;

    public async Task InitializeAsync()
    {
        SimulatedNetmod? first = null;
        SimulatedNetmod? second = null;
        _a = await _mesh.StartAsync(address => first = _network.CreateNetmod("sim", address, maxFrameSize: 1500));
        _b = await _mesh.StartAsync(address => second = _network.CreateNetmod("sim", address, maxFrameSize: 1500));
        _network.Link(first!, second!, new LinkProperties { Latency = TimeSpan.FromMilliseconds(1) });
        await SecureMesh.WaitForAsync(() => SecureMesh.HasRoute(_a, _b.Identity.Address), Limit, () => _mesh.Logs.Text);
    }

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    private static RouterMetrics MetricsOf(RouterNode node) => new(
        node.Get<SwitchCounters>(),
        node.Get<NetmodHost>(),
        node.Get<RouteTable>(),
        node.Get<PrefixTable>(),
        node.Get<LocalDelivery>(),
        node.Get<Inbox>(),
        node.Get<RoutingService>(),
        node.Get<LinkSecurityCounters>(),
        node.Get<SessionCounters>(),
        node.Get<OverlayCounters>(),
        node.Get<RouterStatus>(),
        node.Get<RouterIdentity>(),
        TimeProvider.System);

    private static double Sample(string scrape, string series)
    {
        var match = Regex.Match(scrape, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"no series {series} in:\n{scrape}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Scrape_AfterAMessage_CountsFramesMessagesPeersAndRoutes()
    {
        using var metrics = MetricsOf(_b);
        var before = metrics.Scrape();
        var message = new byte[10_000];

        // While link costs settle over the first hellos a route may come and go: retry as a sender would.
        var deadline = DateTime.UtcNow + Limit;
        OriginateResult result;
        while ((result = (await _a.Get<MessageSender>().SendAsync(_b.Identity.Address, message, CancellationToken.None)).Result) == OriginateResult.NoRoute
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(OriginateResult.Sent, result);
        await SecureMesh.WaitForAsync(() => _b.Get<LocalDelivery>().Completed >= 1, Limit, () => _mesh.Logs.Text);

        var after = metrics.Scrape();

        // 10,000 bytes over 1,500-byte frames: several slices, each one frame received and delivered.
        Assert.True(Sample(after, "router_frames_received_total") >= Sample(before, "router_frames_received_total") + 7, after);
        Assert.True(Sample(after, "router_frames_delivered_total") >= Sample(before, "router_frames_delivered_total") + 7, after);
        Assert.True(Sample(after, "router_messages_delivered_total") >= 1);
        Assert.Equal(1, Sample(after, "router_routes"));
        Assert.Equal(1, Sample(after, "router_peers{netmod=\"sim\",state=\"up\"}"));
        Assert.Equal(1, Sample(after, "router_netmod_running{netmod=\"sim\"}"));
        Assert.True(Sample(after, "router_link_handshakes_total") >= 1);
        Assert.True(Sample(after, "router_session_handshakes_total") >= 1);
        Assert.Equal(0, Sample(after, "router_frames_dropped_total{reason=\"malformed\"}"));
        Assert.Equal(0, Sample(after, "router_reassembly_pending"));
        var sdk = global::Router.Sdk.SdkVersion.Current.ToString(2);
        Assert.Equal(1, Sample(after, $"router_info{{address=\"{_b.Identity.Address}\",sdk_version=\"{sdk}\",version=\"{RouterStatus.Version}\"}}"));
        Assert.Contains("# TYPE router_frames_received_total counter\n", after, StringComparison.Ordinal);
        Assert.Contains("# TYPE router_reassembly_buffered_bytes gauge\n", after, StringComparison.Ordinal);
    }

    [Fact]
    public void Scrape_TwoRoutersInOneProcess_EachSeesOnlyItsOwnMeter()
    {
        using var a = MetricsOf(_a);
        using var b = MetricsOf(_b);

        Assert.Contains($"address=\"{_a.Identity.Address}\"", a.Scrape(), StringComparison.Ordinal);
        Assert.DoesNotContain($"address=\"{_b.Identity.Address}\"", a.Scrape(), StringComparison.Ordinal);
    }

    /// <summary>
    /// dotnet-counters reads meters through the runtime's System.Diagnostics.Metrics event source
    /// (over EventPipe); this listens to the same event source in process with the arguments
    /// dotnet-counters sends for <c>--counters Router</c>, and sees the router's counters.
    /// </summary>
    [Fact]
    public async Task MetricsEventSource_CountersRouter_PublishesTheRouterInstruments()
    {
        using var metrics = MetricsOf(_b);
        using var listener = new MetricsEventListener();
        await SecureMesh.WaitForAsync(
            () => listener.Published.ContainsKey("router.frames.received") && listener.Published.ContainsKey("router.routes"),
            Limit,
            () => $"instruments seen: {string.Join(", ", listener.Published.Keys)}; errors: {string.Join(" | ", listener.Errors)}");

        Assert.Equal("Router", listener.Published["router.frames.received"]);
    }

    private sealed class MetricsEventListener : EventListener
    {
        private readonly string _session = Guid.NewGuid().ToString();

        /// <summary>Instrument name → meter name, from value events of the session.</summary>
        public ConcurrentDictionary<string, string> Published { get; } = new();

        public ConcurrentQueue<string> Errors { get; } = new();

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "System.Diagnostics.Metrics")
            {
                EnableEvents(source, EventLevel.Informational, (EventKeywords)0x3, new Dictionary<string, string?>
                {
                    ["SessionId"] = _session,
                    ["Metrics"] = "Router",
                    ["RefreshInterval"] = "0.2",
                    ["MaxTimeSeries"] = "1000",
                    ["MaxHistograms"] = "10",
                });
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.Payload is null || e.PayloadNames is null)
            {
                return;
            }

            string? Field(string name) => e.PayloadNames.IndexOf(name) is var i and >= 0 ? e.Payload[i]?.ToString() : null;
            if (e.EventName is "Error" or "MultipleSessionsNotSupportedError" or "ObservableInstrumentCallbackError")
            {
                Errors.Enqueue($"{e.EventName}: {string.Join(", ", e.Payload)}");
            }
            else if (e.EventName is "CounterRateValuePublished" or "GaugeValuePublished" && Field("sessionId") == _session
                && Field("meterName") is { } meter && Field("instrumentName") is { } instrument)
            {
                Published[instrument] = meter;
            }
        }
    }
}
