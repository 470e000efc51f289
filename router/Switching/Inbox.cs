using System.Threading.Channels;
using Router.Sdk;

namespace Router.Switching;

/// <summary>A whole message delivered to this router.</summary>
internal sealed record DeliveredMessage(RouterAddress From, uint MessageId, byte[] Payload, DateTimeOffset ReceivedAt);

/// <summary>
/// Hands complete messages to local listeners (API clients running <c>router listen</c>).
/// While nobody listens, up to <c>Router:InboxMessages</c> messages wait here and go to the
/// next listener, so a message that arrives just before a listener connects is not lost;
/// beyond that the oldest is dropped and counted. A listener that falls behind by more than
/// its queue loses messages, counted, rather than holding up the switch.
/// </summary>
internal sealed class Inbox
{
    private const int ListenerQueue = 256;

    private readonly object _gate = new();
    private readonly Queue<DeliveredMessage> _backlog = new();
    private readonly List<Channel<DeliveredMessage>> _listeners = [];
    private readonly int _backlogLimit;
    private long _dropped;

    public Inbox(int backlogLimit)
    {
        _backlogLimit = backlogLimit;
    }

    public long Dropped => Interlocked.Read(ref _dropped);

    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _backlog.Count;
            }
        }
    }

    public void Deliver(DeliveredMessage message)
    {
        lock (_gate)
        {
            if (_listeners.Count == 0)
            {
                if (_backlogLimit == 0)
                {
                    Interlocked.Increment(ref _dropped);
                    return;
                }

                if (_backlog.Count == _backlogLimit)
                {
                    _backlog.Dequeue();
                    Interlocked.Increment(ref _dropped);
                }

                _backlog.Enqueue(message);
                return;
            }

            foreach (var listener in _listeners)
            {
                if (!listener.Writer.TryWrite(message))
                {
                    Interlocked.Increment(ref _dropped);
                }
            }
        }
    }

    /// <summary>
    /// Starts listening: the returned reader yields the waiting backlog, then new messages,
    /// until <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public ChannelReader<DeliveredMessage> Listen(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<DeliveredMessage>(new BoundedChannelOptions(Math.Max(ListenerQueue, _backlogLimit))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        lock (_gate)
        {
            while (_backlog.TryDequeue(out var waiting))
            {
                channel.Writer.TryWrite(waiting);
            }

            _listeners.Add(channel);
        }

        cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                _listeners.Remove(channel);
            }

            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }
}
