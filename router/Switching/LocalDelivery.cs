using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Switching;

/// <summary>
/// Receives the slices of messages addressed to this router and reassembles them.
/// Memory is bounded: a message longer than <c>Router:MaxMessageBytes</c> never gets here
/// (the parser rejects it), all partial messages together hold at most
/// <c>Router:ReassemblyBufferBytes</c> (a new message that does not fit is dropped, counted),
/// and a message still incomplete <c>Router:ReassemblyTimeoutSeconds</c> after its first
/// slice is dropped, counted. Duplicate and overlapping slices are tolerated.
/// </summary>
internal sealed partial class LocalDelivery : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<(RouterAddress Source, uint Id), Reassembly> _partial = [];
    private readonly Inbox _inbox;
    private readonly TimeProvider _time;
    private readonly long _bufferLimit;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly ITimer _sweeper;
    private long _bufferedBytes;
    private long _completed;
    private long _timedOut;
    private long _overLimit;

    public LocalDelivery(Inbox inbox, long bufferLimit, TimeSpan timeout, TimeProvider time, ILogger<LocalDelivery> logger)
    {
        _inbox = inbox;
        _bufferLimit = bufferLimit;
        _timeout = timeout;
        _time = time;
        _logger = logger;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 50, Math.Min(timeout.Ticks / 4, TimeSpan.TicksPerSecond)));
        _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
    }

    public long Completed => Interlocked.Read(ref _completed);

    public long TimedOut => Interlocked.Read(ref _timedOut);

    public long OverLimit => Interlocked.Read(ref _overLimit);

    public long BufferedBytes => Interlocked.Read(ref _bufferedBytes);

    public int Pending
    {
        get
        {
            lock (_gate)
            {
                return _partial.Count;
            }
        }
    }

    /// <summary>Takes one slice; the payload is copied, so the caller keeps its buffer.</summary>
    public void Accept(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Offset == 0 && payload.Length == header.MessageLength)
        {
            Complete(header.Source, header.MessageId, payload.ToArray());
            return;
        }

        byte[]? complete = null;
        lock (_gate)
        {
            var key = (header.Source, header.MessageId);
            if (!_partial.TryGetValue(key, out var reassembly))
            {
                if (_bufferedBytes + header.MessageLength > _bufferLimit)
                {
                    Interlocked.Increment(ref _overLimit);
                    Log.ReassemblyFull(_logger, header.Source.ToShortString(), header.MessageId, header.MessageLength);
                    return;
                }

                reassembly = new Reassembly(header.MessageLength, _time.GetTimestamp());
                _partial.Add(key, reassembly);
                Interlocked.Add(ref _bufferedBytes, header.MessageLength);
            }
            else if (reassembly.Length != header.MessageLength)
            {
                // Same id, different length: not a slice of this message. Drop the slice.
                Interlocked.Increment(ref _overLimit);
                return;
            }

            if (reassembly.Add((int)header.Offset, payload))
            {
                _partial.Remove(key);
                Interlocked.Add(ref _bufferedBytes, -header.MessageLength);
                complete = reassembly.Buffer;
            }
        }

        if (complete is not null)
        {
            Complete(header.Source, header.MessageId, complete);
        }
    }

    /// <summary>Delivers a whole message that did not cross the mesh (sent to this router itself).</summary>
    public void Complete(RouterAddress source, uint messageId, byte[] payload)
    {
        Interlocked.Increment(ref _completed);
        _inbox.Deliver(new DeliveredMessage(source, messageId, payload, _time.GetUtcNow()));
    }

    private void Sweep()
    {
        lock (_gate)
        {
            if (_partial.Count == 0)
            {
                return;
            }

            List<(RouterAddress, uint)>? expired = null;
            foreach (var (key, reassembly) in _partial)
            {
                if (_time.GetElapsedTime(reassembly.Started) > _timeout)
                {
                    (expired ??= []).Add(key);
                }
            }

            foreach (var key in expired ?? [])
            {
                var reassembly = _partial[key];
                _partial.Remove(key);
                Interlocked.Add(ref _bufferedBytes, -reassembly.Length);
                Interlocked.Increment(ref _timedOut);
                Log.ReassemblyTimedOut(_logger, key.Item1.ToShortString(), key.Item2, reassembly.Received, reassembly.Length);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    /// <summary>One message being put together: its buffer and which byte ranges have arrived.</summary>
    private sealed class Reassembly(uint length, long started)
    {
        // Received ranges, sorted and merged; a message is complete when this is [0, Length).
        private readonly List<(int Start, int End)> _ranges = [];

        public byte[] Buffer { get; } = new byte[length];

        public uint Length { get; } = length;

        public long Started { get; } = started;

        public long Received { get; private set; }

        /// <summary>Copies a slice in; returns true when the message is complete.</summary>
        public bool Add(int offset, ReadOnlySpan<byte> payload)
        {
            payload.CopyTo(Buffer.AsSpan(offset));
            var start = offset;
            var end = offset + payload.Length;
            var i = 0;
            while (i < _ranges.Count && _ranges[i].End < start)
            {
                i++;
            }

            while (i < _ranges.Count && _ranges[i].Start <= end)
            {
                start = Math.Min(start, _ranges[i].Start);
                end = Math.Max(end, _ranges[i].End);
                _ranges.RemoveAt(i);
            }

            _ranges.Insert(i, (start, end));
            Received = 0;
            foreach (var range in _ranges)
            {
                Received += range.End - range.Start;
            }

            return _ranges.Count == 1 && _ranges[0].Start == 0 && _ranges[0].End == Length;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Message {MessageId} from {Source} dropped: incomplete after the reassembly timeout ({Received} of {Length} bytes)")]
        public static partial void ReassemblyTimedOut(ILogger logger, string source, uint messageId, long received, uint length);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Message {MessageId} from {Source} ({Length} bytes) dropped: the reassembly buffer is full")]
        public static partial void ReassemblyFull(ILogger logger, string source, uint messageId, uint length);
    }
}
