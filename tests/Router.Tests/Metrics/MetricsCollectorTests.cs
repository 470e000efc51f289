using System.Diagnostics.Metrics;
using Router.Metrics;

namespace Router.Tests.Metrics;

public sealed class MetricsCollectorTests
{
    private static double Value(IReadOnlyList<MetricFamily> families, string instrument, params (string Key, string Value)[] labels)
    {
        var family = Assert.Single(families, f => f.InstrumentName == instrument);
        var sample = Assert.Single(family.Samples, s => labels.All(l => s.Labels.Contains(new KeyValuePair<string, string>(l.Key, l.Value))) && s.Labels.Count == labels.Length);
        return sample.Value;
    }

    [Fact]
    public void Collect_ObservableInstruments_ReadAtEachCollection()
    {
        using var meter = new Meter("Test.Observable." + Guid.NewGuid());
        long frames = 5;
        meter.CreateObservableCounter("frames", () => frames, "{frame}", "Frames.");
        meter.CreateObservableGauge("queue", () => new Measurement<int>(3, new KeyValuePair<string, object?>("netmod", "inet")));
        using var collector = new MetricsCollector(i => i.Meter == meter);

        var first = collector.Collect();
        frames = 9;
        var second = collector.Collect();

        Assert.Equal(5, Value(first, "frames"));
        Assert.Equal(9, Value(second, "frames"));
        Assert.Equal(MetricKind.Counter, Assert.Single(second, f => f.InstrumentName == "frames").Kind);
        Assert.Equal(3, Value(second, "queue", ("netmod", "inet")));
        Assert.Equal(MetricKind.Gauge, Assert.Single(second, f => f.InstrumentName == "queue").Kind);
    }

    [Fact]
    public void Collect_SeriesNoLongerObserved_Disappear()
    {
        using var meter = new Meter("Test.Vanishing." + Guid.NewGuid());
        var netmods = new List<string> { "inet", "udp" };
        meter.CreateObservableGauge("running", () => netmods.Select(n => new Measurement<long>(1, new KeyValuePair<string, object?>("netmod", n))));
        using var collector = new MetricsCollector(i => i.Meter == meter);

        Assert.Equal(2, Assert.Single(collector.Collect()).Samples.Count);
        netmods.Remove("udp");

        var sample = Assert.Single(Assert.Single(collector.Collect()).Samples);
        Assert.Equal([new("netmod", "inet")], sample.Labels);
    }

    [Fact]
    public void Collect_SynchronousInstruments_CountersSumGaugesKeepTheLastValue()
    {
        using var meter = new Meter("Test.Sync." + Guid.NewGuid());
        var reloads = meter.CreateCounter<long>("reloads");
        var waiting = meter.CreateUpDownCounter<int>("waiting");
        var temperature = meter.CreateGauge<double>("temperature");
        using var collector = new MetricsCollector(i => i.Meter == meter);

        reloads.Add(2, new KeyValuePair<string, object?>("result", "ok"));
        reloads.Add(3, new KeyValuePair<string, object?>("result", "ok"));
        reloads.Add(1, new KeyValuePair<string, object?>("result", "rejected"));
        waiting.Add(4);
        waiting.Add(-1);
        temperature.Record(20.5);
        temperature.Record(21.25);
        var families = collector.Collect();

        Assert.Equal(5, Value(families, "reloads", ("result", "ok")));
        Assert.Equal(1, Value(families, "reloads", ("result", "rejected")));
        Assert.Equal(3, Value(families, "waiting"));
        Assert.Equal(MetricKind.Gauge, Assert.Single(families, f => f.InstrumentName == "waiting").Kind);
        Assert.Equal(21.25, Value(families, "temperature"));
    }

    [Fact]
    public void Collect_TagsInAnyOrder_AreOneSeriesSortedByKey()
    {
        using var meter = new Meter("Test.Tags." + Guid.NewGuid());
        var counter = meter.CreateCounter<long>("c");
        using var collector = new MetricsCollector(i => i.Meter == meter);

        counter.Add(1, new("b", "2"), new("a", 1));
        counter.Add(1, new("a", "1"), new("b", 2));

        var sample = Assert.Single(Assert.Single(collector.Collect()).Samples);
        Assert.Equal(2, sample.Value);
        Assert.Equal([new("a", "1"), new("b", "2")], sample.Labels);
    }

    [Fact]
    public void Collect_OtherMetersAndHistograms_AreLeftOut()
    {
        using var mine = new Meter("Test.Mine." + Guid.NewGuid());
        using var other = new Meter("Test.Other." + Guid.NewGuid());
        mine.CreateObservableCounter("mine", () => 1L);
        mine.CreateHistogram<double>("latency").Record(1);
        other.CreateObservableCounter("theirs", () => 1L);
        using var collector = new MetricsCollector(i => i.Meter == mine);

        Assert.Equal(["mine"], collector.Collect().Select(f => f.InstrumentName));
    }
}
