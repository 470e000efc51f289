using Xunit;

namespace Router.Sdk.Testing.Conformance;

/// <summary>
/// One netmod under test in the conformance suite, with bounded waits on its channels: every
/// wait fails the test with a message saying what did not happen, instead of hanging it.
/// Disposing stops the netmod and returns every frame left unread to the pool.
/// </summary>
internal sealed class ConformanceNode : IAsyncDisposable
{
    private readonly TimeSpan _timeout;

    public ConformanceNode(string label, Netmod netmod, RouterAddress address, TimeSpan timeout)
    {
        Label = label;
        Netmod = netmod;
        Address = address;
        _timeout = timeout;
    }

    /// <summary>Which of the two instances this is (<c>A</c> or <c>B</c>), for messages.</summary>
    public string Label { get; }

    public Netmod Netmod { get; }

    /// <summary>The router address the instance was created with.</summary>
    public RouterAddress Address { get; }

    public Task StartAsync() =>
        Bounded(Netmod.StartAsync(CancellationToken.None), $"{Label}.StartAsync to complete");

    public Task StopAsync() =>
        Bounded(Netmod.StopAsync(CancellationToken.None), $"{Label}.StopAsync to complete");

    public async Task<SendResult> SendAsync(NeighbourId to, ReadOnlyMemory<byte> frame)
    {
        using var cts = new CancellationTokenSource(_timeout);
        return await Bounded(Netmod.SendAsync(to, frame, cts.Token).AsTask(), $"{Label}.SendAsync to complete").ConfigureAwait(false);
    }

    public async Task<int> SendAllAsync(ReadOnlyMemory<byte> frame, NeighbourId? except)
    {
        using var cts = new CancellationTokenSource(_timeout);
        return await Bounded(Netmod.SendAllAsync(frame, except, cts.Token).AsTask(), $"{Label}.SendAllAsync to complete").ConfigureAwait(false);
    }

    /// <summary>The next neighbour event, failing the test when none comes in time.</summary>
    public async Task<NeighbourEvent> NextEventAsync(string what)
    {
        using var cts = new CancellationTokenSource(_timeout);
        try
        {
            return await Netmod.NeighbourEvents.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"{Label}: no neighbour event within {_timeout.TotalSeconds} s while waiting for {what}.");
            throw;
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            Assert.Fail($"{Label}: the neighbour events channel completed while waiting for {what}.");
            throw;
        }
    }

    /// <summary>
    /// Waits for the Up event of <paramref name="peer"/> and checks what it carries: the peer's
    /// router address (or none, for a link type without a handshake), an endpoint, a non-zero id.
    /// </summary>
    public async Task<NeighbourEvent> ExpectUpAsync(ConformanceNode peer)
    {
        var e = await NextEventAsync($"{peer.Label} to come up").ConfigureAwait(false);
        Assert.True(e.Kind == NeighbourEventKind.Up, $"{Label}: expected {peer.Label} to come up, but got {e}.");
        Assert.True(e.Neighbour.Value != 0, $"{Label}: the Up event uses neighbour id 0, which the contract reserves (NeighbourId).");
        Assert.True(e.Address == peer.Address || e.Address.IsNone,
            $"{Label}: the Up event names router {e.Address}, but the neighbour is {peer.Address} (or RouterAddress.None when the link has no handshake).");
        Assert.False(string.IsNullOrWhiteSpace(e.RemoteEndpoint), $"{Label}: the Up event has no RemoteEndpoint, which people read in logs and status.");
        return e;
    }

    /// <summary>Waits for the Down event of the neighbour <paramref name="id"/>.</summary>
    public async Task ExpectDownAsync(NeighbourId id, string why)
    {
        var e = await NextEventAsync($"neighbour {id} to go down ({why})").ConfigureAwait(false);
        Assert.True(e.Kind == NeighbourEventKind.Down && e.Neighbour == id,
            $"{Label}: expected neighbour {id} to go down ({why}), but got {e}.");
    }

    /// <summary>No neighbour event arrives within <paramref name="quiet"/>.</summary>
    public async Task ExpectNoEventAsync(TimeSpan quiet, string why)
    {
        await Task.Delay(quiet).ConfigureAwait(false);
        if (Netmod.NeighbourEvents.TryRead(out var e))
        {
            Assert.Fail($"{Label}: unexpected neighbour event {e} ({why}).");
        }
    }

    /// <summary>The next frame as a copy (its buffer is released), failing the test when none comes in time.</summary>
    public async Task<(NeighbourId From, byte[] Bytes)> NextFrameAsync(string what)
    {
        using var cts = new CancellationTokenSource(_timeout);
        InboundFrame frame;
        try
        {
            frame = await Netmod.Incoming.ReadAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"{Label}: no frame within {_timeout.TotalSeconds} s while waiting for {what}.");
            throw;
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            Assert.Fail($"{Label}: the incoming channel completed while waiting for {what}.");
            throw;
        }

        var bytes = frame.Span.ToArray();
        frame.Release();
        return (frame.From, bytes);
    }

    /// <summary>No frame arrives within <paramref name="quiet"/>.</summary>
    public async Task ExpectNoFrameAsync(TimeSpan quiet, string why)
    {
        await Task.Delay(quiet).ConfigureAwait(false);
        if (Netmod.Incoming.TryRead(out var frame))
        {
            var length = frame.Length;
            frame.Release();
            Assert.Fail($"{Label}: a frame of {length} bytes arrived ({why}).");
        }
    }

    /// <summary>
    /// Reads both channels to their end and checks that they complete in time. Frames still in
    /// the channel are released; events still in it are returned (they must be Downs).
    /// </summary>
    public async Task<List<NeighbourEvent>> ExpectChannelsCompleteAsync(string why)
    {
        using var cts = new CancellationTokenSource(_timeout);
        var events = new List<NeighbourEvent>();
        try
        {
            await foreach (var e in Netmod.NeighbourEvents.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                events.Add(e);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"{Label}: NeighbourEvents did not complete within {_timeout.TotalSeconds} s ({why}).");
        }

        try
        {
            await foreach (var frame in Netmod.Incoming.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                frame.Release();
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Assert.Fail($"{Label}: Incoming did not complete within {_timeout.TotalSeconds} s ({why}).");
        }

        return events;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Netmod.StopAsync(CancellationToken.None).WaitAsync(_timeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The test has already failed or passed on its own assertions; disposal only cleans up.
        }

        while (Netmod.Incoming.TryRead(out var frame))
        {
            frame.Release();
        }
    }

    private async Task Bounded(Task task, string what)
    {
        try
        {
            await task.WaitAsync(_timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"timed out after {_timeout.TotalSeconds} s waiting for {what}.");
        }
    }

    private async Task<T> Bounded<T>(Task<T> task, string what)
    {
        try
        {
            return await task.WaitAsync(_timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"timed out after {_timeout.TotalSeconds} s waiting for {what}.");
            throw;
        }
    }
}
