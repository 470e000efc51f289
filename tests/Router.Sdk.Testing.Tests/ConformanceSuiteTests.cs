using System.Threading.Channels;
using Router.Sdk.Testing.Conformance;
using Xunit.Sdk;

namespace Router.Sdk.Testing.Tests;

/// <summary>
/// The conformance suite catches netmods that break the contract: cases of the suite run
/// against the simulator's netmod with one rule broken, and must fail saying which.
/// </summary>
public sealed class ConformanceSuiteTests
{
    [Fact]
    public async Task MaxFrameSizeCase_NetmodSendsLargerFrames_Fails()
    {
        // Claims 1500 bytes but lets 4000 through.
        var suite = new SuiteOver(inner => new Careless(inner, claimedMaxFrameSize: 1500), innerMaxFrameSize: 4000);
        var failure = await Assert.ThrowsAnyAsync<XunitException>(suite.SendAsync_MaxFrameSize_IsHonoured);
        Assert.Contains("TooLarge", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StopTwiceCase_SecondStopThrows_Fails()
    {
        var suite = new SuiteOver(inner => new Careless(inner, throwOnSecondStop: true));
        await Assert.ThrowsAsync<InvalidOperationException>(suite.StopAsync_CalledTwice_IsIdempotent);
    }

    [Fact]
    public async Task BufferCase_NetmodSendsTheCallersBufferLater_Fails()
    {
        var suite = new SuiteOver(inner => new Careless(inner, sendLater: true));
        var failure = await Assert.ThrowsAnyAsync<XunitException>(suite.SendAsync_CallerReusesTheBufferAtOnce_FrameArrivesAsSent);
        Assert.Contains("must copy", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoundTripCase_UnbrokenSimulator_Passes()
    {
        // The same harness with nothing broken: the failures above come from the breakage.
        var suite = new SuiteOver(inner => new Careless(inner));
        await suite.SendAsync_RoundTrip_ArrivesIntactFromTheAnnouncedNeighbour();
        await suite.SendAsync_MaxFrameSize_IsHonoured();
        await suite.StopAsync_CalledTwice_IsIdempotent();
        await suite.SendAsync_CallerReusesTheBufferAtOnce_FrameArrivesAsSent();
    }

    /// <summary>Not public, so xunit does not run it as a test class of its own.</summary>
    private sealed class SuiteOver(Func<SimulatedNetmod, Netmod> wrap, int innerMaxFrameSize = 1500) : NetmodConformanceTests
    {
        private readonly SimulatedNetwork _network = new(TimeProvider.System);

        protected override TimeSpan Timeout => TimeSpan.FromSeconds(5);

        protected override Netmod CreateNetmod(RouterAddress address) =>
            wrap(_network.CreateNetmod("sim", address, innerMaxFrameSize));

        protected override ValueTask LinkAsync(Netmod dialler, Netmod listener, CancellationToken cancellationToken) =>
            dialler.AddPeersAsync([((Careless)listener).Inner.Endpoint], cancellationToken);
    }

    /// <summary>The simulator's netmod with one rule of the contract broken on request.</summary>
    private sealed class Careless(SimulatedNetmod inner, int? claimedMaxFrameSize = null, bool throwOnSecondStop = false, bool sendLater = false) : Netmod
    {
        private int _stops;

        public SimulatedNetmod Inner => inner;

        public override NetmodCapabilities Capabilities =>
            claimedMaxFrameSize is { } max ? inner.Capabilities with { MaxFrameSize = max } : inner.Capabilities;

        public override ChannelReader<InboundFrame> Incoming => inner.Incoming;

        public override ChannelReader<NeighbourEvent> NeighbourEvents => inner.NeighbourEvents;

        public override Task StartAsync(CancellationToken cancellationToken) => inner.StartAsync(cancellationToken);

        public override ValueTask AddPeersAsync(IReadOnlyList<string> peers, CancellationToken cancellationToken) =>
            inner.AddPeersAsync(peers, cancellationToken);

        public override ValueTask<SendResult> SendAsync(NeighbourId neighbour, ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
        {
            if (!sendLater)
            {
                return inner.SendAsync(neighbour, frame, cancellationToken);
            }

            // Keeps the caller's buffer and sends it after the call has returned.
            _ = Task.Run(async () =>
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                await inner.SendAsync(neighbour, frame, CancellationToken.None).ConfigureAwait(false);
            }, CancellationToken.None);
            return ValueTask.FromResult(SendResult.Sent);
        }

        public override ValueTask<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except, CancellationToken cancellationToken) =>
            inner.SendAllAsync(frame, except, cancellationToken);

        public override Task StopAsync(CancellationToken cancellationToken) =>
            throwOnSecondStop && Interlocked.Increment(ref _stops) > 1
                ? throw new InvalidOperationException("already stopped")
                : inner.StopAsync(cancellationToken);
    }
}
