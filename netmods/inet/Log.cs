using Microsoft.Extensions.Logging;

namespace Router.Netmods.Inet;

/// <summary>
/// Every log message of the inet netmod, source-generated. Event ids are fixed here, in one
/// place, so operators can filter on them; they are never reused for another meaning.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "inet listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "inet accept on {Endpoint} failed ({Error}); retrying in {DelayMs} ms")]
    public static partial void AcceptFailed(ILogger logger, string endpoint, string error, int delayMs);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "inet: {Count} inbound handshakes already pending (MaxPendingHandshakes); connection from {Remote} closed. {Refused} refused so far; said at most every 10 s")]
    public static partial void TooManyHandshakes(ILogger logger, int count, string remote, long refused);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "inet: {Count} inbound connections already open (MaxInboundConnections); connection from {Remote} closed. {Refused} refused so far; said at most every 10 s")]
    public static partial void TooManyInbound(ILogger logger, int count, string remote, long refused);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "inet: {Count} inbound connections from {Address} already open (MaxInboundConnectionsPerAddress); connection from {Remote} closed. {Refused} refused so far; said at most every 10 s")]
    public static partial void TooManyFromAddress(ILogger logger, int count, string address, string remote, long refused);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "connection from {Remote} closed: not a Router inet peer (bad handshake)")]
    public static partial void BadHandshake(ILogger logger, string remote);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "peer {Remote} speaks inet protocol v{PeerVersion}, this router speaks v{OurVersion}; link refused")]
    public static partial void VersionMismatch(ILogger logger, string remote, int peerVersion, int ourVersion);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning, Message = "connection from {Remote} closed: invalid hello ({Reason})")]
    public static partial void InvalidHello(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 113, Level = LogLevel.Information, Message = "connection from {Remote} closed: handshake not finished within {Seconds} s")]
    public static partial void HandshakeTimedOut(ILogger logger, string remote, double seconds);

    [LoggerMessage(EventId = 114, Level = LogLevel.Debug, Message = "connection from {Remote} closed during the handshake: {Reason}")]
    public static partial void HandshakeFailed(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 115, Level = LogLevel.Debug, Message = "connection from {Remote} is this router talking to itself; closed")]
    public static partial void SelfConnection(ILogger logger, string remote);

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "inet link up: {Address} at {Remote} ({Direction}), neighbour {Neighbour}")]
    public static partial void LinkUp(ILogger logger, string address, string remote, string direction, long neighbour);

    [LoggerMessage(EventId = 121, Level = LogLevel.Information, Message = "inet link down: {Address} at {Remote}, neighbour {Neighbour}: {Reason}")]
    public static partial void LinkDown(ILogger logger, string address, string remote, long neighbour, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Debug, Message = "second connection to {Address}: {Kept} carries the link, {Other} is {Fate}")]
    public static partial void DuplicateLink(ILogger logger, string address, string kept, string other, string fate);

    [LoggerMessage(EventId = 123, Level = LogLevel.Debug, Message = "link to {Address} moved from {From} to {To}")]
    public static partial void LinkMoved(ILogger logger, string address, string from, string to);

    [LoggerMessage(EventId = 130, Level = LogLevel.Warning, Message = "peer {Remote} sent a {Length}-byte frame, above this router's maximum of {Max} bytes; connection closed")]
    public static partial void FrameTooLarge(ILogger logger, string remote, uint length, int max);

    [LoggerMessage(EventId = 131, Level = LogLevel.Warning, Message = "peer {Remote} silent for {Seconds} s; link down")]
    public static partial void PeerSilent(ILogger logger, string remote, double seconds);

    [LoggerMessage(EventId = 132, Level = LogLevel.Debug, Message = "connection {Remote} ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 140, Level = LogLevel.Information, Message = "peer {Peer} could not be reached: {Error}; retrying in {DelaySeconds} s")]
    public static partial void DialFailed(ILogger logger, string peer, string error, double delaySeconds);

    [LoggerMessage(EventId = 141, Level = LogLevel.Debug, Message = "peer {Peer} still unreachable: {Error}; retrying in {DelaySeconds} s")]
    public static partial void DialFailedAgain(ILogger logger, string peer, string error, double delaySeconds);

    [LoggerMessage(EventId = 142, Level = LogLevel.Warning, Message = "peer {Peer} is this router ({Address}); no longer dialling it")]
    public static partial void PeerIsSelf(ILogger logger, string peer, string address);

    [LoggerMessage(EventId = 143, Level = LogLevel.Debug, Message = "peer {Peer} ({Address}) is reached through another connection; dialler idle")]
    public static partial void DialerIdle(ILogger logger, string peer, string address);

    [LoggerMessage(EventId = 144, Level = LogLevel.Information, Message = "peer {Peer} removed: no longer dialled, its link closed")]
    public static partial void PeerRemoved(ILogger logger, string peer);

    [LoggerMessage(EventId = 150, Level = LogLevel.Error, Message = "inet: unexpected failure in {Loop}")]
    public static partial void LoopFault(ILogger logger, string loop, Exception exception);

    [LoggerMessage(EventId = 151, Level = LogLevel.Warning, Message = "inet stop: connections still closing after {Seconds} s; abandoned")]
    public static partial void StopTimedOut(ILogger logger, double seconds);
}
