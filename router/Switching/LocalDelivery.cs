using System.Buffers;
using Microsoft.Extensions.Logging;
using Router.Sdk;
using Router.Security.Sessions;

namespace Router.Switching;

/// <summary>
/// Receives the slices of messages addressed to this router (and of floods), reassembles
/// them, opens them and hands them to the <see cref="Inbox"/>: a sealed message is opened with
/// its end-to-end session, a flood's signature is checked (<see cref="SessionService"/>); what
/// fails is dropped and counted there (<see cref="SessionCounters"/>). Memory is bounded: a
/// message longer than <c>Router:MaxMessageBytes</c> (plus the sealing or signature overhead)
/// never gets here (the parser rejects it), all partial messages together hold at most
/// <c>Router:ReassemblyBufferBytes</c> and those of one source at most
/// <c>Router:ReassemblyBytesPerSource</c> (a new message that does not fit is dropped, counted),
/// and a message still incomplete <c>Router:ReassemblyTimeoutSeconds</c> after its first
/// slice is dropped, counted. Duplicate and overlapping slices are tolerated. Partial
/// messages live in pooled buffers; a single-slice message is opened straight from the frame,
/// so the array handed to the inbox is the only one allocated per message.
/// </summary>
internal sealed partial class LocalDelivery : IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<(RouterAddress Source, uint Id, FrameKind Kind), Reassembly> _partial = [];
    private readonly Dictionary<RouterAddress, long> _bytesPerSource = [];
    private readonly Inbox _inbox;
    private readonly TimeProvider _time;
    private readonly long _bufferLimit;
    private readonly long _sourceLimit;
    private readonly TimeSpan _timeout;
    private readonly ILogger _logger;
    private readonly ITimer _sweeper;
    private readonly Overlay.PacketGateway? _packets;
    private long _bufferedBytes;
    private long _completed;
    private long _timedOut;
    private long _overLimit;
    private long _overSourceLimit;

    /// <param name="packets">Where opened batches of IP packets go (<see cref="FrameKind.Packets"/>); null: dropped.</param>
    public LocalDelivery(Inbox inbox, SessionService sessions, long bufferLimit, long sourceLimit, TimeSpan timeout, TimeProvider time, ILogger<LocalDelivery> logger, Overlay.PacketGateway? packets = null)
    {
        _packets = packets;
        _inbox = inbox;
        Sessions = sessions;
        _bufferLimit = bufferLimit;
        _sourceLimit = sourceLimit;
        _timeout = timeout;
        _time = time;
        _logger = logger;
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 50, Math.Min(timeout.Ticks / 4, TimeSpan.TicksPerSecond)));
        _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
    }

    /// <summary>The end-to-end sessions that open sealed messages (and sign and seal what <see cref="MessageSender"/> sends).</summary>
    public SessionService Sessions { get; }

    /// <summary>Messages handed to the inbox (opened, verified, or sent to this router itself) or, for batches of IP packets, to the packet gateway.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public long TimedOut => Interlocked.Read(ref _timedOut);

    public long OverLimit => Interlocked.Read(ref _overLimit);

    /// <summary>New messages dropped because their source already had <c>Router:ReassemblyBytesPerSource</c> in partial messages.</summary>
    public long OverSourceLimit => Interlocked.Read(ref _overSourceLimit);

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

    /// <summary>Takes one slice of a message or flood; the payload is copied, so the caller keeps its buffer.</summary>
    public void Accept(in FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Offset == 0 && payload.Length == header.MessageLength)
        {
            Open(header, payload);
            return;
        }

        Reassembly? complete = null;
        lock (_gate)
        {
            var key = (header.Source, header.MessageId, header.Kind);
            if (!_partial.TryGetValue(key, out var reassembly))
            {
                if (_bufferedBytes + header.MessageLength > _bufferLimit)
                {
                    Interlocked.Increment(ref _overLimit);
                    Log.ReassemblyFull(_logger, header.Source.ToShortString(), header.MessageId, header.MessageLength);
                    return;
                }

                var fromSource = _bytesPerSource.GetValueOrDefault(header.Source);
                if (fromSource + header.MessageLength > _sourceLimit)
                {
                    Interlocked.Increment(ref _overSourceLimit);
                    Log.SourceLimit(_logger, header.Source.ToShortString(), header.MessageId, header.MessageLength, fromSource);
                    return;
                }

                reassembly = new Reassembly(header, _time.GetTimestamp());
                _partial.Add(key, reassembly);
                _bytesPerSource[header.Source] = fromSource + header.MessageLength;
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
                RemoveLocked(key, reassembly);
                complete = reassembly;
            }
        }

        if (complete is not null)
        {
            try
            {
                Open(complete.Header, complete.Buffer.AsSpan(0, (int)complete.Length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(complete.Buffer);
            }
        }
    }

    /// <summary>Delivers a whole message that did not cross the mesh (sent to this router itself).</summary>
    public void Complete(RouterAddress source, uint messageId, byte[] payload)
    {
        Interlocked.Increment(ref _completed);
        _inbox.Deliver(new DeliveredMessage(source, messageId, payload, _time.GetUtcNow()));
    }

    /// <summary>A whole message from the mesh: opened (or its signature checked) and delivered, or dropped and counted.</summary>
    private void Open(in FrameHeader header, ReadOnlySpan<byte> message)
    {
        if (header.Kind == FrameKind.Flood)
        {
            if (Sessions.TryVerifyFlood(header, message, out var payloadLength))
            {
                Complete(header.Source, header.MessageId, message[..payloadLength].ToArray());
            }

            return;
        }

        if (header.Kind == FrameKind.Packets)
        {
            OpenPackets(header, message);
            return;
        }

        if (Sessions.TryOpen(header, message, out var plaintext) == OpenResult.Opened)
        {
            Complete(header.Source, header.MessageId, plaintext!);
        }
    }

    /// <summary>A batch of IP packets: opened into a pooled buffer and handed to the packet gateway, which writes them out before returning.</summary>
    private void OpenPackets(in FrameHeader header, ReadOnlySpan<byte> message)
    {
        var length = Math.Max(0, message.Length - SealedMessage.Overhead);
        var plaintext = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            if (Sessions.TryOpen(header, message, plaintext) == OpenResult.Opened)
            {
                Interlocked.Increment(ref _completed);
                _packets?.Receive(header, plaintext, length);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plaintext);
        }
    }

    private void RemoveLocked((RouterAddress Source, uint Id, FrameKind Kind) key, Reassembly reassembly)
    {
        _partial.Remove(key);
        Interlocked.Add(ref _bufferedBytes, -reassembly.Length);
        var left = _bytesPerSource[key.Source] - reassembly.Length;
        if (left == 0)
        {
            _bytesPerSource.Remove(key.Source);
        }
        else
        {
            _bytesPerSource[key.Source] = left;
        }
    }

    private void Sweep()
    {
        lock (_gate)
        {
            if (_partial.Count == 0)
            {
                return;
            }

            List<(RouterAddress, uint, FrameKind)>? expired = null;
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
                RemoveLocked(key, reassembly);
                ArrayPool<byte>.Shared.Return(reassembly.Buffer);
                Interlocked.Increment(ref _timedOut);
                Log.ReassemblyTimedOut(_logger, key.Item1.ToShortString(), key.Item2, reassembly.Received, reassembly.Length);
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    /// <summary>One message being put together: its header, its (pooled) buffer and which byte ranges have arrived.</summary>
    private sealed class Reassembly(FrameHeader header, long started)
    {
        // Received ranges, sorted and merged; a message is complete when this is [0, Length).
        private readonly List<(int Start, int End)> _ranges = [];

        public FrameHeader Header { get; } = header;

        public byte[] Buffer { get; } = ArrayPool<byte>.Shared.Rent((int)header.MessageLength);

        public uint Length { get; } = header.MessageLength;

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

        // Debug, not Warning: a source that hits its own limit is the one sending too much, and
        // it could otherwise fill the log; the counter (OverSourceLimit) is what status shows.
        [LoggerMessage(EventId = 2103, Level = LogLevel.Debug, Message = "Message {MessageId} from {Source} ({Length} bytes) dropped: that source already has {Buffered} bytes in partial messages (Router:ReassemblyBytesPerSource)")]
        public static partial void SourceLimit(ILogger logger, string source, uint messageId, uint length, long buffered);
    }
}
