namespace Router.Sdk.Testing;

/// <summary>
/// One direction of a simulated link: a sender queue limited by bandwidth, a wire with latency
/// and loss, and one timer that delivers the frame at the head of the wire when it arrives.
/// </summary>
/// <remarks>
/// Arrival times never decrease along the wire (a latency cut at run time does not let a frame
/// overtake an earlier one), so the head is always the next frame to arrive and one timer per
/// direction suffices. Every member runs under the network's lock; the timer callback takes it.
/// </remarks>
internal sealed class LinkDirection(SimulatedNetwork network, SimulatedLink link, SimulatedNetmod receiver, LinkProperties properties, Random random)
{
    private const long NotArmed = long.MaxValue;

    // When each frame still at the sender (waiting or being transmitted) finishes transmission.
    private readonly Queue<long> _transmitting = new();
    private readonly Queue<InFlightFrame> _wire = new();
    private long _transmitterFreeAt;
    private long _lastArrival;
    private ITimer? _timer;
    private long _armedFor = NotArmed;
    private long _sent;
    private long _delivered;
    private long _lost;
    private long _dropped;
    private long _queueFull;

    public LinkProperties Properties { get; set; } = properties;

    public LinkCounters Counters => new(_sent, _delivered, _lost, _dropped, _queueFull);

    /// <summary>Sends one frame at virtual time <paramref name="now"/> (ticks); the link is live.</summary>
    public SendResult Send(ReadOnlySpan<byte> frame, long now)
    {
        while (_transmitting.TryPeek(out var finish) && finish <= now)
        {
            _transmitting.Dequeue();
        }

        var p = Properties;
        if (_transmitting.Count >= p.QueueFrames)
        {
            _queueFull++;
            return SendResult.QueueFull;
        }

        var start = Math.Max(now, _transmitterFreeAt);
        var end = start + TransmissionTicks(frame.Length, p.BandwidthBitsPerSecond);
        _transmitterFreeAt = end;
        _transmitting.Enqueue(end);
        _sent++;

        if (link.Silent || p.Loss >= 1 || (p.Loss > 0 && random.NextDouble() < p.Loss))
        {
            _lost++;
            return SendResult.Sent;
        }

        if (frame.Length > receiver.Capabilities.MaxFrameSize)
        {
            _dropped++;
            return SendResult.Sent;
        }

        var arrival = Math.Max(end + p.Latency.Ticks, _lastArrival);
        _lastArrival = arrival;
        var buffer = FrameBuffers.Rent(frame.Length);
        frame.CopyTo(buffer);
        _wire.Enqueue(new InFlightFrame(buffer, frame.Length, arrival));
        Arm(now);
        return SendResult.Sent;
    }

    /// <summary>The link went down: frames at the sender and on the wire are gone.</summary>
    public void Clear()
    {
        while (_wire.TryDequeue(out var frame))
        {
            FrameBuffers.Return(frame.Buffer);
            _dropped++;
        }

        _transmitting.Clear();
        _transmitterFreeAt = 0;
        _lastArrival = 0;
        if (_armedFor != NotArmed)
        {
            _armedFor = NotArmed;
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The link was removed: nothing will be sent here again.</summary>
    public void Close()
    {
        Clear();
        _timer?.Dispose();
        _timer = null;
    }

    private static long TransmissionTicks(int bytes, long bitsPerSecond) =>
        bitsPerSecond == 0 ? 0 : (long)Math.Ceiling((double)bytes * 8 * TimeSpan.TicksPerSecond / bitsPerSecond);

    private void Arm(long now)
    {
        if (!_wire.TryPeek(out var head) || head.Arrival >= _armedFor)
        {
            return;
        }

        _armedFor = head.Arrival;
        var delay = network.TimerDelay(head.Arrival - now);
        if (_timer is null)
        {
            _timer = network.Time.CreateTimer(static state => ((LinkDirection)state!).OnTimer(), this, delay, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnTimer()
    {
        lock (network.Gate)
        {
            if (_timer is null)
            {
                return; // closed while this callback waited for the lock
            }

            _armedFor = NotArmed;
            var now = network.Now;
            var neighbour = link.IdAt(receiver);
            while (_wire.TryPeek(out var frame) && frame.Arrival <= now)
            {
                _wire.Dequeue();
                if (receiver.TryDeliver(new InboundFrame(neighbour, frame.Buffer, frame.Length)))
                {
                    _delivered++;
                }
                else
                {
                    FrameBuffers.Return(frame.Buffer);
                    _dropped++;
                }
            }

            Arm(now);
        }
    }

    private readonly record struct InFlightFrame(byte[] Buffer, int Length, long Arrival);
}
