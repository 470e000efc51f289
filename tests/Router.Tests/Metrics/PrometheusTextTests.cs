using Router.Metrics;

namespace Router.Tests.Metrics;

public sealed class PrometheusTextTests
{
    private static MetricSample Sample(double value, params (string Key, string Value)[] labels) =>
        new([.. labels.Select(l => new KeyValuePair<string, string>(l.Key, l.Value))], value);

    [Theory]
    [InlineData("router.frames.received", "{frame}", true, "router_frames_received_total")]
    [InlineData("router.frames.received.total", null, true, "router_frames_received_total")]
    [InlineData("router.reassembly.buffered", "By", false, "router_reassembly_buffered_bytes")]
    [InlineData("router.overlay.bytes", "By", true, "router_overlay_bytes_total")]
    [InlineData("router.uptime", "s", false, "router_uptime_seconds")]
    [InlineData("http.duration_seconds", "s", false, "http_duration_seconds")]
    [InlineData("9lives-and spaces/é", null, false, "_9lives_and_spaces__")]
    [InlineData("ns:metric", "1", false, "ns:metric")]
    public void MetricName_InstrumentNames_BecomeValidPrometheusNames(string instrument, string? unit, bool counter, string expected)
    {
        var name = PrometheusText.MetricName(instrument, unit, counter ? MetricKind.Counter : MetricKind.Gauge);

        Assert.Equal(expected, name);
        Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*$", name);
    }

    [Theory]
    [InlineData("netmod", "netmod")]
    [InlineData("sdk.version", "sdk_version")]
    [InlineData("1st", "_1st")]
    [InlineData("a:b", "a_b")]
    public void LabelName_AnyKey_BecomesAValidLabelName(string key, string expected) =>
        Assert.Equal(expected, PrometheusText.LabelName(key));

    [Fact]
    public void EscapeLabelValue_BackslashQuoteNewline_AreEscaped() =>
        Assert.Equal("a\\\\b\\\"c\\nd", PrometheusText.EscapeLabelValue("a\\b\"c\nd"));

    [Fact]
    public void EscapeHelp_BackslashAndNewline_AreEscapedQuotesKept() =>
        Assert.Equal("say \"hi\"\\\\\\nbye", PrometheusText.EscapeHelp("say \"hi\"\\\nbye"));

    [Theory]
    [InlineData(0, "0")]
    [InlineData(42, "42")]
    [InlineData(-3, "-3")]
    [InlineData(1.5, "1.5")]
    [InlineData(9007199254740993L, "9007199254740992")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    public void FormatValue_Numbers_UseGoFloatSyntax(double value, string expected) =>
        Assert.Equal(expected, PrometheusText.FormatValue(value));

    [Fact]
    public void Write_Families_HelpTypeAndSeriesLinesInNameOrder()
    {
        MetricFamily[] families =
        [
            new("router.routes", "{route}", "Destinations in the route table.", MetricKind.Gauge, [Sample(3)]),
            new("router.frames.dropped", "{frame}", "Frames dropped,\nby reason \\ why.", MetricKind.Counter,
                [Sample(7, ("reason", "noRoute")), Sample(0, ("reason", "say \"x\"\n"), ("netmod", "in\\et"))]),
            new("router.empty", null, null, MetricKind.Counter, []),
        ];

        var text = PrometheusText.Write(families);

        Assert.Equal(
            "# TYPE router_empty_total counter\n" +
            "# HELP router_frames_dropped_total Frames dropped,\\nby reason \\\\ why.\n" +
            "# TYPE router_frames_dropped_total counter\n" +
            "router_frames_dropped_total{reason=\"noRoute\"} 7\n" +
            "router_frames_dropped_total{reason=\"say \\\"x\\\"\\n\",netmod=\"in\\\\et\"} 0\n" +
            "# HELP router_routes Destinations in the route table.\n" +
            "# TYPE router_routes gauge\n" +
            "router_routes 3\n",
            text);
    }

    [Fact]
    public void Write_TwoInstrumentsWithOneName_OneFamilyWithBothSeries()
    {
        MetricFamily[] families =
        [
            new("a.b", null, "first", MetricKind.Gauge, [Sample(1, ("x", "1"))]),
            new("a_b", null, "second", MetricKind.Gauge, [Sample(2, ("x", "2"))]),
        ];

        var text = PrometheusText.Write(families);

        Assert.Equal("# HELP a_b first\n# TYPE a_b gauge\na_b{x=\"1\"} 1\na_b{x=\"2\"} 2\n", text);
    }
}
