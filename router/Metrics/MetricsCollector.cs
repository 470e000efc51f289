using System.Diagnostics.Metrics;
using System.Globalization;

namespace Router.Metrics;

/// <summary>
/// Reads the instruments a <see cref="MeterListener"/> is told to include and keeps their
/// current values for a scrape. Observable instruments are read when <see cref="Collect"/>
/// runs (their callbacks read the core's existing counters, so a scrape costs the frame path
/// nothing); counters and up-down counters that are added to are summed as measurements
/// arrive, gauges keep their last value. Histograms are not exported.
/// </summary>
/// <remarks>
/// A lock guards the values: measurements of synchronous instruments take it on the thread
/// that records them, so such instruments must not be recorded on the frame path (the
/// router's own instruments are all observable).
/// </remarks>
internal sealed class MetricsCollector : IDisposable
{
    private readonly object _gate = new();
    private readonly MeterListener _listener = new();
    private readonly Dictionary<Instrument, InstrumentValues> _instruments = [];

    /// <param name="include">Which published instruments to collect (e.g. those of one meter).</param>
    public MetricsCollector(Func<Instrument, bool> include)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!include(instrument) || Describe(instrument) is not { } shape)
            {
                return;
            }

            lock (_gate)
            {
                _instruments[instrument] = new InstrumentValues(shape.Kind, shape.Summed, instrument.IsObservable);
            }

            listener.EnableMeasurementEvents(instrument);
        };
        _listener.MeasurementsCompleted = (instrument, _) =>
        {
            lock (_gate)
            {
                _instruments.Remove(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<short>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<byte>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<float>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<decimal>((i, v, tags, _) => Record(i, (double)v, tags));
        _listener.Start();
    }

    /// <summary>Reads every observable instrument now and returns every included instrument's series.</summary>
    public IReadOnlyList<MetricFamily> Collect()
    {
        lock (_gate)
        {
            foreach (var values in _instruments.Values.Where(v => v.Observable))
            {
                // An observable instrument reports every series it has on each read; a series it
                // no longer reports (a netmod that went away) must not linger.
                values.Series.Clear();
            }

            // Calls the observable callbacks on this thread; Record runs inside, re-entering the lock.
            _listener.RecordObservableInstruments();
            return _instruments
                .Select(kv => new MetricFamily(
                    kv.Key.Name,
                    kv.Key.Unit,
                    kv.Key.Description,
                    kv.Value.Kind,
                    kv.Value.Series.Values.Select(s => new MetricSample(s.Labels, s.Value)).ToList()))
                .ToList();
        }
    }

    public void Dispose() => _listener.Dispose();

    private static (MetricKind Kind, bool Summed)? Describe(Instrument instrument)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType)
        {
            return null;
        }

        var definition = type.GetGenericTypeDefinition();
        if (definition == typeof(ObservableCounter<>))
        {
            return (MetricKind.Counter, false);
        }

        if (definition == typeof(Counter<>))
        {
            return (MetricKind.Counter, true);
        }

        if (definition == typeof(ObservableGauge<>) || definition == typeof(ObservableUpDownCounter<>) || definition == typeof(Gauge<>))
        {
            return (MetricKind.Gauge, false);
        }

        if (definition == typeof(UpDownCounter<>))
        {
            return (MetricKind.Gauge, true);
        }

        return null;
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = new KeyValuePair<string, string>[tags.Length];
        for (var i = 0; i < tags.Length; i++)
        {
            labels[i] = new(tags[i].Key, Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? "");
        }

        Array.Sort(labels, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var key = string.Join('\u0001', labels.Select(l => l.Key + "\u0002" + l.Value));
        lock (_gate)
        {
            if (!_instruments.TryGetValue(instrument, out var values))
            {
                return;
            }

            if (values.Summed && values.Series.TryGetValue(key, out var series))
            {
                series.Value += value;
            }
            else
            {
                values.Series[key] = new Series(labels, value);
            }
        }
    }

    private sealed class InstrumentValues(MetricKind kind, bool summed, bool observable)
    {
        public MetricKind Kind { get; } = kind;

        /// <summary>Measurements are added up (counters that are added to), not replaced.</summary>
        public bool Summed { get; } = summed;

        /// <summary>Read afresh on each collection rather than recorded as it happens.</summary>
        public bool Observable { get; } = observable;

        public Dictionary<string, Series> Series { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Series(KeyValuePair<string, string>[] labels, double value)
    {
        public KeyValuePair<string, string>[] Labels { get; } = labels;

        public double Value { get; set; } = value;
    }
}
