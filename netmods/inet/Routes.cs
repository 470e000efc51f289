// The table of live links: router address → Neighbour → the connection carrying it.
//
// Writes (a connection registers, the peer retires one, one ends, stop) are rare and go
// through one async gate, which also orders the Up/Down events they write. Reads on the
// frame path (SendAsync by NeighbourId, SendAllAsync over all) take no lock: they read an
// immutable snapshot that every write replaces whole.
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>What to do when a second connection to an already linked router registers.</summary>
internal enum DuplicateDecision
{
    /// <summary>The existing connection keeps the link; retire the new one.</summary>
    KeepExisting,

    /// <summary>The new connection takes the link; retire the existing one.</summary>
    ReplaceExisting,

    /// <summary>The new connection takes the link; the existing one waits in reserve.</summary>
    DemoteExisting,
}

/// <summary>An immutable view of the live neighbours, replaced whole on every change.</summary>
internal sealed class RouteSnapshot
{
    public static readonly RouteSnapshot Empty = new([]);

    public RouteSnapshot(Neighbour[] all)
    {
        All = all;
        ById = new Dictionary<NeighbourId, Neighbour>(all.Length);
        ByAddress = new Dictionary<RouterAddress, Neighbour>(all.Length);
        foreach (var neighbour in all)
        {
            ById.Add(neighbour.Id, neighbour);
            ByAddress.Add(neighbour.Address, neighbour);
        }
    }

    public Neighbour[] All { get; }

    public Dictionary<NeighbourId, Neighbour> ById { get; }

    public Dictionary<RouterAddress, Neighbour> ByAddress { get; }
}

/// <summary>The live links of one <see cref="InetEndpoint"/>. See the comment at the top of this file.</summary>
internal sealed class Routes
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<RouterAddress, Neighbour> _byAddress = [];
    private readonly RouterAddress _local;
    private readonly ChannelWriter<NeighbourEvent> _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _eventsAbort = new();
    private RouteSnapshot _snapshot = RouteSnapshot.Empty;
    private long _lastId;
    private bool _closed;

    public Routes(RouterAddress local, ChannelWriter<NeighbourEvent> events, TimeProvider time, ILogger logger)
    {
        _local = local;
        _events = events;
        _time = time;
        _logger = logger;
    }

    /// <summary>The current neighbours. Lock-free; never changes once read.</summary>
    public RouteSnapshot Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>
    /// The rule that makes both routers keep the same one of two connections between them
    /// (README.md, "Duplicate links"). Both sides evaluate it with the roles swapped and reach
    /// the same answer, so they converge without talking about it.
    /// </summary>
    /// <param name="local">This router.</param>
    /// <param name="remote">The router both connections lead to.</param>
    /// <param name="existingInbound">Whether the peer dialled the connection carrying the link now.</param>
    /// <param name="existingPeerRetired">Whether the peer already retired that connection.</param>
    /// <param name="newInbound">Whether the peer dialled the new connection.</param>
    public static DuplicateDecision Decide(RouterAddress local, RouterAddress remote, bool existingInbound, bool existingPeerRetired, bool newInbound)
    {
        if (existingPeerRetired)
        {
            return DuplicateDecision.ReplaceExisting;
        }

        if (existingInbound != newInbound)
        {
            // Dialled by different routers: the one dialled by the lower address wins.
            var newDialledByLower = newInbound ? remote < local : local < remote;
            return newDialledByLower ? DuplicateDecision.ReplaceExisting : DuplicateDecision.KeepExisting;
        }

        // Dialled by the same router: that router chooses (it keeps its older connection and
        // retires the newer); the other side follows its retire markers, holding the older
        // connection in reserve meanwhile. It prefers the newer so a link the dialler
        // re-established after a silent failure takes over at once.
        return newInbound ? DuplicateDecision.DemoteExisting : DuplicateDecision.KeepExisting;
    }

    /// <summary>
    /// Adds a connection that finished its handshake: it creates the neighbour (writing Up
    /// before returning, so before any of its frames) or joins the existing one. Returns false
    /// when the netmod is stopping and the connection must be closed.
    /// </summary>
    public async ValueTask<bool> RegisterAsync(PeerConnection connection)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_closed)
            {
                return false;
            }

            if (!_byAddress.TryGetValue(connection.RemoteAddress, out var neighbour))
            {
                neighbour = new Neighbour(new NeighbourId(++_lastId), connection, _time.GetUtcNow());
                connection.Attach(neighbour, LinkRole.Active);
                _byAddress.Add(neighbour.Address, neighbour);
                Publish();
                Log.LinkUp(_logger, neighbour.Address.ToString(), connection.RemoteEndpoint, connection.Inbound ? "inbound" : "outbound", neighbour.Id.Value);
                await WriteEventAsync(new NeighbourEvent(NeighbourEventKind.Up, neighbour.Id, neighbour.Address, neighbour.RemoteEndpoint)).ConfigureAwait(false);
                return true;
            }

            var existing = neighbour.Active;
            switch (Decide(_local, neighbour.Address, existing.Inbound, existing.PeerRetired, connection.Inbound))
            {
                case DuplicateDecision.KeepExisting:
                    connection.Attach(neighbour, LinkRole.Unregistered);
                    connection.Retire();
                    Log.DuplicateLink(_logger, neighbour.Address.ToShortString(), existing.RemoteEndpoint, connection.RemoteEndpoint, "retired");
                    break;
                case DuplicateDecision.ReplaceExisting:
                    connection.Attach(neighbour, LinkRole.Active);
                    neighbour.Active = connection;
                    existing.Retire();
                    foreach (var standby in neighbour.Standbys)
                    {
                        standby.Retire();
                    }

                    neighbour.Standbys.Clear();
                    Log.DuplicateLink(_logger, neighbour.Address.ToShortString(), connection.RemoteEndpoint, existing.RemoteEndpoint, "retired");
                    break;
                case DuplicateDecision.DemoteExisting:
                    connection.Attach(neighbour, LinkRole.Active);
                    neighbour.Active = connection;
                    existing.SetRole(LinkRole.Standby);
                    neighbour.Standbys.Add(existing);
                    Log.DuplicateLink(_logger, neighbour.Address.ToShortString(), connection.RemoteEndpoint, existing.RemoteEndpoint, "kept in reserve");
                    break;
            }

            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The peer sent the retire marker on <paramref name="connection"/>.</summary>
    public async ValueTask PeerRetiredAsync(PeerConnection connection)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            connection.MarkPeerRetired();
            var neighbour = connection.Neighbour;
            if (neighbour is null || _closed)
            {
                return;
            }

            if (connection.Role == LinkRole.Standby)
            {
                neighbour.Standbys.Remove(connection);
                connection.Retire();
            }
            else if (connection.Role == LinkRole.Active && neighbour.Active == connection && neighbour.Standbys.Count > 0)
            {
                Promote(neighbour);
                connection.Retire();
            }

            // An active connection with no reserve stays active: the peer's replacement is
            // still in its handshake here, and takes over when it registers.
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A registered connection has ended (its loops are finished). When it carried its
    /// neighbour and no reserve can take over, the neighbour goes down.
    /// </summary>
    public async ValueTask ConnectionEndedAsync(PeerConnection connection)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var neighbour = connection.Neighbour;
            if (neighbour is null || !neighbour.IsLive)
            {
                return;
            }

            if (neighbour.Active != connection)
            {
                neighbour.Standbys.Remove(connection);
                return;
            }

            if (neighbour.Standbys.Count > 0)
            {
                Promote(neighbour);
                return;
            }

            _byAddress.Remove(neighbour.Address);
            Publish();
            await ReportDownAsync(neighbour, connection.CloseReason).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Takes one neighbour down now, with every connection to it (a peer removed from the
    /// configuration). Returns false when no live neighbour has that address.
    /// </summary>
    public async ValueTask<bool> CloseNeighbourAsync(RouterAddress address, string reason)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_byAddress.Remove(address, out var neighbour))
            {
                return false;
            }

            Publish();
            await ReportDownAsync(neighbour, reason).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Reports every live neighbour down and refuses later registrations. Waits for event
    /// space until <see cref="AbandonEvents"/>.
    /// </summary>
    public async ValueTask CloseAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _closed = true;
            var all = _byAddress.Values.ToArray();
            _byAddress.Clear();
            Publish();
            foreach (var neighbour in all)
            {
                await ReportDownAsync(neighbour, "the netmod stopped").ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops waiting for room in a full event channel (nobody is reading it).</summary>
    public void AbandonEvents() => _eventsAbort.Cancel();

    private void Promote(Neighbour neighbour)
    {
        var previous = neighbour.Active;
        var next = neighbour.Standbys[^1];
        neighbour.Standbys.RemoveAt(neighbour.Standbys.Count - 1);
        next.SetRole(LinkRole.Active);
        neighbour.Active = next;
        Log.LinkMoved(_logger, neighbour.Address.ToShortString(), previous.RemoteEndpoint, next.RemoteEndpoint);
    }

    private async ValueTask ReportDownAsync(Neighbour neighbour, string reason)
    {
        neighbour.MarkGone();
        foreach (var other in neighbour.Standbys)
        {
            other.Abort("its neighbour went down");
        }

        neighbour.Standbys.Clear();
        neighbour.Active.Abort(reason);
        Log.LinkDown(_logger, neighbour.Address.ToString(), neighbour.RemoteEndpoint, neighbour.Id.Value, reason);
        await WriteEventAsync(new NeighbourEvent(NeighbourEventKind.Down, neighbour.Id, neighbour.Address, neighbour.RemoteEndpoint)).ConfigureAwait(false);
    }

    private async ValueTask WriteEventAsync(NeighbourEvent neighbourEvent)
    {
        if (_events.TryWrite(neighbourEvent))
        {
            return;
        }

        try
        {
            await _events.WriteAsync(neighbourEvent, _eventsAbort.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ChannelClosedException or OperationCanceledException)
        {
            // Stopping and nobody reads the events any more: the event has no audience.
        }
    }

    private void Publish() => Volatile.Write(ref _snapshot, new RouteSnapshot([.. _byAddress.Values]));
}
