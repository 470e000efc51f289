using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Router.Sdk;

namespace Router.Netmods.Inet;

/// <summary>
/// The listening sockets, one per Listen entry, and their accept loops. Each accepted socket
/// is handed on at once; the handshake runs elsewhere so a slow peer never delays the next
/// accept.
/// </summary>
internal sealed class Server : IDisposable
{
    private static readonly TimeSpan MinRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly Socket[] _listeners;

    private Server(Socket[] listeners)
    {
        _listeners = listeners;
        LocalEndpoints = Array.ConvertAll(listeners, static s => (IPEndPoint)s.LocalEndPoint!);
    }

    /// <summary>The bound addresses, with the ports the system chose for port 0.</summary>
    public IReadOnlyList<IPEndPoint> LocalEndpoints { get; }

    /// <summary>
    /// Binds every listen address, or none: on the first failure the ones already bound are
    /// closed and an exception naming the address is thrown.
    /// </summary>
    /// <exception cref="InvalidOperationException">An address cannot be bound.</exception>
    public static Server Bind(IReadOnlyList<HostEndpoint> listen)
    {
        var bound = new List<Socket>(listen.Count);
        foreach (var entry in listen)
        {
            var endpoint = entry.ToIPEndPoint();
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (endpoint.Address.Equals(IPAddress.IPv6Any))
                {
                    // "[::]" means every address, IPv4 included, whatever the system's
                    // IPV6_V6ONLY default is.
                    socket.DualMode = true;
                }

                socket.Bind(endpoint);
                socket.Listen(512);
                bound.Add(socket);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                foreach (var other in bound)
                {
                    other.Dispose();
                }

                throw new InvalidOperationException($"inet cannot listen on {entry}: {e.Message} ({e.SocketErrorCode}).", e);
            }
        }

        return new Server([.. bound]);
    }

    /// <summary>Starts one accept loop per listener; the task completes when all have ended.</summary>
    public Task RunAsync(Action<Socket> onAccepted, ILogger logger, TimeProvider time, CancellationToken stopping)
    {
        var loops = new Task[_listeners.Length];
        for (var i = 0; i < _listeners.Length; i++)
        {
            loops[i] = AcceptLoopAsync(_listeners[i], LocalEndpoints[i], onAccepted, logger, time, stopping);
        }

        return Task.WhenAll(loops);
    }

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }
    }

    private static async Task AcceptLoopAsync(Socket listener, IPEndPoint local, Action<Socket> onAccepted, ILogger logger, TimeProvider time, CancellationToken stopping)
    {
        await Task.Yield();
        var delay = MinRetryDelay;
        while (!stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync(stopping).ConfigureAwait(false);
                delay = MinRetryDelay;
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (Exception e)
            {
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                // Out of descriptors or buffers, or a connection reset before accept: none of
                // it is the listener's fault. Pause a little (longer while it persists) so a
                // descriptor shortage does not turn into a busy loop, then go on.
                var error = e is SocketException se ? se.SocketErrorCode.ToString() : e.Message;
                Log.AcceptFailed(logger, local.ToString(), error, (int)delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, time, stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
                continue;
            }

            try
            {
                onAccepted(accepted);
            }
            catch (Exception e)
            {
                Log.LoopFault(logger, "inet accept loop", e);
                accepted.Dispose();
            }
        }
    }
}
