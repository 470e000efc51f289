using System.Net;
using System.Net.Sockets;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// Keeps one configured peer endpoint linked, for the endpoint's lifetime.
/// </summary>
/// <remarks>
/// <para>States (as <see cref="GetStatus"/> reports them):
/// <b>Connecting</b> — resolving, connecting, handshaking, or waiting out a backoff delay;
/// <b>Up</b> — its own connection carries the link;
/// <b>Idle</b> — the router it leads to is linked through another connection (the peer
/// dialled us, or a simultaneous dial went the other way), or it turned out to be this
/// router. An idle dialer wakes when that link goes down and dials at once.</para>
/// <para>DNS is resolved on every attempt, so a peer that moves is found again; each resolved
/// address is tried in turn. Failed attempts wait <see cref="Backoff"/> delays, which start
/// again from the shortest after a link that stayed up for a dead-peer interval.</para>
/// </remarks>
internal sealed class PeerDialer
{
    private readonly Lock _lock = new();
    private readonly HostEndpoint _endpoint;
    private readonly InetEndpoint _owner;
    private readonly InetRuntime _runtime;
    private PeerState _state = PeerState.Connecting;
    private DateTimeOffset _since;
    private string? _lastError;
    private RouterAddress _learned;
    private readonly CancellationTokenSource _removed = new();
    private PeerConnection? _current;

    public PeerDialer(HostEndpoint endpoint, string key, InetEndpoint owner, InetRuntime runtime)
    {
        Key = key;
        _endpoint = endpoint;
        _owner = owner;
        _runtime = runtime;
        _since = runtime.Time.GetUtcNow();
        Text = endpoint.ToString();
    }

    /// <summary>The peer as configured.</summary>
    public string Text { get; }

    /// <summary>The parsed endpoint as a key, so two spellings of one peer are one dialer.</summary>
    public string Key { get; }

    /// <summary>The peer was removed (<see cref="Remove"/>): it dials no more.</summary>
    public bool IsRemoved => _removed.IsCancellationRequested;

    /// <summary>
    /// Stops dialling for good and closes a connection this dialer has in progress. Returns the
    /// router address it led to (none if it never linked), for the caller to close that link.
    /// </summary>
    public RouterAddress Remove()
    {
        _removed.Cancel();
        lock (_lock)
        {
            _current?.Abort("the peer was removed from the configuration");
            return _learned;
        }
    }

    /// <summary>Dials until <paramref name="endpointStopping"/> is cancelled, the peer is removed or it is this router. Never throws.</summary>
    public async Task RunAsync(CancellationToken endpointStopping)
    {
        await Task.Yield();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(endpointStopping, _removed.Token);
        var stopping = linked.Token;
        var options = _runtime.Options;
        var backoff = new Backoff(options.ReconnectMin, options.ReconnectMax);
        string? loggedError = null;
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                var learned = Learned;
                if (!learned.IsNone && _runtime.Routes.Snapshot.ByAddress.TryGetValue(learned, out var neighbour))
                {
                    SetState(PeerState.Idle, _lastError);
                    Log.DialerIdle(_runtime.Logger, Text, learned.ToShortString());
                    await neighbour.Gone.WaitAsync(stopping).ConfigureAwait(false);
                    SetState(PeerState.Connecting, _lastError);
                    continue;
                }

                SetState(PeerState.Connecting, _lastError);
                var result = await DialOnceAsync(stopping).ConfigureAwait(false);
                string error;
                switch (result.Outcome)
                {
                    case ConnectionOutcome.Stopping:
                        return;
                    case ConnectionOutcome.Self:
                        Log.PeerIsSelf(_runtime.Logger, Text, result.Address.ToString());
                        lock (_lock)
                        {
                            _learned = result.Address;
                        }

                        SetState(PeerState.Idle, "this is this router's own address");
                        return;
                    case ConnectionOutcome.Linked:
                        if (result.Uptime >= options.DeadPeerTimeout)
                        {
                            backoff.Reset();
                        }

                        loggedError = null;
                        error = $"link closed: {result.Detail}";
                        if (_runtime.Routes.Snapshot.ByAddress.ContainsKey(result.Address))
                        {
                            // Our connection lost to, or left behind, another one that carries
                            // the link: go idle at the top of the loop rather than redial.
                            SetState(PeerState.Connecting, error);
                            continue;
                        }

                        break;
                    default:
                        error = result.Detail;
                        break;
                }

                var delay = backoff.Next();
                SetState(PeerState.Connecting, error);
                var seconds = Math.Round(delay.TotalSeconds, 1);
                if (result.Outcome == ConnectionOutcome.Linked)
                {
                    // Routes has logged the link going down; nothing new to say.
                }
                else if (error != loggedError)
                {
                    // Said once at Information; repeats of the same failure go to Debug.
                    Log.DialFailed(_runtime.Logger, Text, error, seconds);
                    loggedError = error;
                }
                else
                {
                    Log.DialFailedAgain(_runtime.Logger, Text, error, seconds);
                }

                await Task.Delay(delay, _runtime.Time, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Stopped.
        }
        catch (Exception e)
        {
            Log.LoopFault(_runtime.Logger, $"inet dialer for {Text}", e);
        }
    }

    /// <summary>Called when a connection this dialer made is registered with its neighbour.</summary>
    public void OnLinked(PeerConnection connection)
    {
        lock (_lock)
        {
            _current = connection;
            _learned = connection.RemoteAddress;
            _lastError = null;
        }
    }

    /// <summary>A snapshot of where this peer stands. Thread-safe.</summary>
    public PeerStatus GetStatus()
    {
        lock (_lock)
        {
            if (_current is { Neighbour: { } neighbour } connection)
            {
                var since = _runtime.Time.GetUtcNow() - _runtime.Time.GetElapsedTime(connection.RoleSince);
                return connection.Role == LinkRole.Active && neighbour.IsLive && neighbour.Active == connection
                    ? new PeerStatus(Text, PeerState.Up, connection.RemoteAddress, neighbour.Id, since, null, Inbound: false)
                    : new PeerStatus(Text, PeerState.Idle, connection.RemoteAddress, null, since, null, Inbound: false);
            }

            return new PeerStatus(Text, _state, _learned, null, _since, _lastError, Inbound: false);
        }
    }

    private RouterAddress Learned
    {
        get
        {
            lock (_lock)
            {
                return _learned;
            }
        }
    }

    private void SetState(PeerState state, string? error)
    {
        lock (_lock)
        {
            _current = null;
            if (_state != state)
            {
                _state = state;
                _since = _runtime.Time.GetUtcNow();
            }

            _lastError = error;
        }
    }

    private async Task<ConnectionResult> DialOnceAsync(CancellationToken stopping)
    {
        IPAddress[] addresses;
        if (_endpoint.Address is { } literal)
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(_endpoint.Host, stopping).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                return ConnectionResult.Failed($"cannot resolve '{_endpoint.Host}': {e.Message}");
            }

            if (addresses.Length == 0)
            {
                return ConnectionResult.Failed($"'{_endpoint.Host}' resolves to no address");
            }
        }

        var error = string.Empty;
        foreach (var address in addresses)
        {
            // The connect, like everything else on the socket, runs on the connection's own
            // thread (InetEndpoint.RunConnectionAsync); this loop only waits for the outcome.
            var target = new IPEndPoint(address, _endpoint.Port);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            var result = await _owner.RunConnectionAsync(socket, inboundFrom: null, target.ToString(), this, target, stopping).ConfigureAwait(false);
            if (result.Outcome != ConnectionOutcome.ConnectFailed)
            {
                return result;
            }

            error = result.Detail;
        }

        return ConnectionResult.Failed(error);
    }
}
