using BenchmarkDotNet.Attributes;
using Router.Routing;
using Router.Sdk;
using Router.Switching;

namespace Router.Benchmarks.Switching;

// Every benchmark here handles Frames frames per invocation (OperationsPerInvoke), so Mean,
// Ops/s and Allocated are per frame.

/// <summary>
/// Forwarding: a frame for another router through <c>Switch.ProcessAsync</c> — parse, hop limit,
/// route lookup, send to a sink netmod, buffer back to the pool. With 10,000 routes the frames
/// of one invocation go to 1,000 different destinations spread over the table, so the lookup
/// does not always hit the same cache lines.
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class SwitchForwardingBenchmarks
{
    private const int Frames = 1000;

    private SwitchFixture _fixture = null!;
    private byte[][] _headers = null!;
    private long _invocations;

    [Params(128, 1400, 65536)]
    public int FrameBytes { get; set; }

    [Params(1, 10_000)]
    public int Routes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new SwitchFixture(Routes);
        var destinations = _fixture.Destinations;
        _headers = Enumerable.Range(0, Frames)
            .Select(i => _fixture.Header(destinations[(int)((long)i * destinations.Length / Frames)], FrameBytes, (uint)i))
            .ToArray();

        // Prove the frames are forwarded, not dropped, before timing anything.
        Forward();
        _fixture.Verify(forwarded: Frames, delivered: 0);
        _invocations = 1;
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void Forward()
    {
        for (var i = 0; i < Frames; i++)
        {
            _fixture.Process(_headers[i], FrameBytes);
        }

        _invocations++;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // Throws (and BenchmarkDotNet reports it) if any frame was dropped.
        _fixture.Verify(forwarded: _fixture.Out.Sent, delivered: 0);
        if (_fixture.Out.Sent != _invocations * Frames)
        {
            throw new InvalidOperationException($"{_fixture.Out.Sent} frames sent, {_invocations * Frames} expected");
        }

        _fixture.Dispose();
    }
}

/// <summary>
/// What <see cref="SwitchForwardingBenchmarks"/> does around the switch, alone: rent a pooled
/// buffer, write the 80 header bytes, return the buffer (which the switch does when it is done).
/// Subtract it from a forwarding time to get the switch's own share.
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class HarnessBenchmarks
{
    private const int Frames = 1000;

    private byte[][] _headers = null!;

    [Params(128, 1400, 65536)]
    public int FrameBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var fixture = new SwitchFixture(routeCount: 1);
        _headers = Enumerable.Range(0, Frames).Select(i => fixture.Header(fixture.Destinations[0], FrameBytes, (uint)i)).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void RentWriteHeaderReturn()
    {
        for (var i = 0; i < Frames; i++)
        {
            var buffer = FrameBuffers.Rent(FrameBytes);
            _headers[i].CopyTo(buffer, 0);
            FrameBuffers.Return(buffer);
        }
    }
}

/// <summary>
/// Local delivery: a single-slice message addressed to this router through
/// <c>Switch.ProcessAsync</c> into <c>LocalDelivery</c> and the inbox (no listener, so the
/// inbox keeps the newest 100 messages and drops the oldest, as it does in the router).
/// </summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class LocalDeliveryBenchmarks
{
    private const int Frames = 1000;

    private SwitchFixture _fixture = null!;
    private byte[][] _headers = null!;

    [Params(128, 1400)]
    public int FrameBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _fixture = new SwitchFixture(routeCount: 1);
        _headers = Enumerable.Range(0, Frames).Select(i => _fixture.Header(_fixture.Local, FrameBytes, (uint)i)).ToArray();
        Deliver();
        _fixture.Verify(forwarded: 0, delivered: Frames);
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public void Deliver()
    {
        for (var i = 0; i < Frames; i++)
        {
            _fixture.Process(_headers[i], FrameBytes);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _fixture.Verify(forwarded: 0, delivered: _fixture.Switch.Counters.DeliveredLocally);
        _fixture.Dispose();
    }
}

/// <summary>The header parser alone, over a 1,400-byte frame.</summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class FrameHeaderBenchmarks
{
    private const int Frames = 1000;

    private byte[] _frame = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var fixture = new SwitchFixture(routeCount: 1);
        _frame = new byte[1400];
        fixture.Header(fixture.Destinations[0], _frame.Length, 7).CopyTo(_frame, 0);
    }

    [Benchmark(OperationsPerInvoke = Frames)]
    public uint TryRead()
    {
        uint sum = 0;
        for (var i = 0; i < Frames; i++)
        {
            // Vary a byte the parser reads so the loop cannot be hoisted.
            _frame[71] = (byte)i;
            if (FrameHeader.TryRead(_frame, SwitchFixture.MaxMessageBytes, out var header) == FrameError.None)
            {
                sum += header.MessageId + (uint)header.Destination.GetHashCode();
            }
        }

        return sum;
    }
}

/// <summary>The route lookup alone: <c>RouteTable.TryGetNextHop</c> for 1,000 destinations of a table of 1 or 10,000 routes.</summary>
[Config(typeof(BenchmarkConfig))]
[MemoryDiagnoser]
public class RouteTableBenchmarks
{
    private const int Lookups = 1000;

    private RouteTable _routes = null!;
    private RouterAddress[] _targets = null!;

    [Params(1, 10_000)]
    public int Routes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var fixture = new SwitchFixture(Routes);
        _routes = fixture.Routes;
        var destinations = fixture.Destinations;
        _targets = Enumerable.Range(0, Lookups).Select(i => destinations[(int)((long)i * destinations.Length / Lookups)]).ToArray();
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int TryGetNextHop()
    {
        var found = 0;
        foreach (var target in _targets)
        {
            if (_routes.TryGetNextHop(target, out _))
            {
                found++;
            }
        }

        return found;
    }
}
