using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// One remote router as the router core sees it: one <see cref="NeighbourId"/>, up from its
/// first connection's registration until its last active connection ends. The connection
/// carrying it (<see cref="Active"/>) may change underneath when a duplicate link wins; the
/// id and the Up event stay.
/// </summary>
internal sealed class Neighbour
{
    private readonly TaskCompletionSource _gone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile PeerConnection _active;

    public Neighbour(NeighbourId id, PeerConnection first, DateTimeOffset upSince)
    {
        Id = id;
        Address = first.RemoteAddress;
        RemoteEndpoint = first.RemoteEndpoint;
        UpSince = upSince;
        _active = first;
    }

    public NeighbourId Id { get; }

    public RouterAddress Address { get; }

    /// <summary>The socket address of the first connection, as reported in the Up event.</summary>
    public string RemoteEndpoint { get; }

    public DateTimeOffset UpSince { get; }

    /// <summary>The connection frames are sent on. Read without a lock; changed inside Routes' gate.</summary>
    public PeerConnection Active
    {
        get => _active;
        set => _active = value;
    }

    /// <summary>Connections the peer dialled that wait in reserve (README.md, "Duplicate links"). Routes' gate only.</summary>
    public List<PeerConnection> Standbys { get; } = [];

    /// <summary>False once the Down event is decided.</summary>
    public bool IsLive => !_gone.Task.IsCompleted;

    /// <summary>Completes when the neighbour goes down; dialers wait on it while idle.</summary>
    public Task Gone => _gone.Task;

    public void MarkGone() => _gone.TrySetResult();

    /// <summary>
    /// Sends <paramref name="frame"/> on the active connection: at once on the caller's thread
    /// when that connection is idle (<see cref="PeerConnection.TrySend"/>), otherwise copied
    /// into a pooled buffer and queued, waiting for queue space when it is full. Neither path
    /// allocates.
    /// </summary>
    public ValueTask<SendResult> SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        var connection = _active;
        if (frame.Length > connection.MaxSendFrame)
        {
            return new ValueTask<SendResult>(SendResult.TooLarge);
        }

        if (frame.IsEmpty)
        {
            // On the wire an empty frame is a keepalive, which the peer never delivers.
            return new ValueTask<SendResult>(SendResult.Sent);
        }

        if (connection.TrySend(frame.Span))
        {
            return new ValueTask<SendResult>(SendResult.Sent);
        }

        var buffer = FrameBuffers.Rent(frame.Length);
        frame.Span.CopyTo(buffer);
        var item = new OutboundFrame(buffer, frame.Length);
        return connection.TryEnqueue(item)
            ? new ValueTask<SendResult>(SendResult.Sent)
            : SendSlowAsync(connection, item, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<SendResult> SendSlowAsync(PeerConnection connection, OutboundFrame item, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await connection.EnqueueAsync(item, cancellationToken).ConfigureAwait(false);
                return SendResult.Sent;
            }
            catch (ChannelClosedException)
            {
                // The connection is closing. If the link moved to another one, follow it.
                var next = _active;
                if (next == connection || !IsLive)
                {
                    FrameBuffers.Return(item.Buffer!);
                    return SendResult.NoSuchNeighbour;
                }

                connection = next;
            }
            catch
            {
                FrameBuffers.Return(item.Buffer!);
                throw;
            }
        }
    }
}
