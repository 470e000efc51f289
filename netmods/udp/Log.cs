using Microsoft.Extensions.Logging;

namespace Router.Netmods.Udp;

/// <summary>
/// Every log message of the udp netmod, source-generated. Event ids are fixed here, in one
/// place (300–399, clear of inet's 100–199), so operators can filter on them; they are never
/// reused for another meaning. Nothing a remote sends is logged per datagram: repeats of one
/// complaint are logged once at their level and then at Debug.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "udp listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 301, Level = LogLevel.Debug, Message = "udp socket {Endpoint}: asked for {Requested}-byte buffers with {Method}; the kernel granted receive {Receive} bytes, send {Send} bytes")]
    public static partial void SocketBuffers(ILogger logger, string endpoint, int requested, string method, int receive, int send);

    [LoggerMessage(EventId = 316, Level = LogLevel.Debug, Message = "udp socket {Endpoint}: segmented sends {Segmentation}, receive coalescing {Coalescing}")]
    public static partial void Offloads(ILogger logger, string endpoint, string segmentation, string coalescing);

    [LoggerMessage(EventId = 353, Level = LogLevel.Warning, Message = "udp socket {Endpoint}: the kernel refused a segmented send to {Remote} ({Error}); this socket sends one datagram per call from now on")]
    public static partial void SegmentationRefused(ILogger logger, string endpoint, string remote, string error);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "udp discovery: beacons to [{Group}]:{Port} and IPv4 broadcast every {Seconds} s, advertising link port {V6Port} (IPv6) / {V4Port} (IPv4)")]
    public static partial void DiscoveryStarted(ILogger logger, string group, int port, double seconds, string v6Port, string v4Port);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "udp discovery disabled: {Reason}")]
    public static partial void DiscoveryUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = 304, Level = LogLevel.Information, Message = "udp discovery now beaconing on {Interface} ({How})")]
    public static partial void DiscoveryInterfaceAdded(ILogger logger, string @interface, string how);

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "udp discovery no longer beaconing on {Interface}: it is gone or no longer eligible")]
    public static partial void DiscoveryInterfaceRemoved(ILogger logger, string @interface);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "udp discovery skipped interface {Interface}: {Reason}")]
    public static partial void DiscoveryInterfaceSkipped(ILogger logger, string @interface, string reason);

    [LoggerMessage(EventId = 307, Level = LogLevel.Debug, Message = "udp beacon to {Target} failed: {Error}")]
    public static partial void BeaconFailed(ILogger logger, string target, string error);

    [LoggerMessage(EventId = 308, Level = LogLevel.Debug, Message = "udp heard a beacon from {Address} at {Remote}; sending a hello to {Target}")]
    public static partial void BeaconHeard(ILogger logger, string address, string remote, string target);

    [LoggerMessage(EventId = 309, Level = LogLevel.Information, Message = "router at {Remote} beacons udp protocol v{PeerVersion}, this router speaks v{OurVersion}; ignored")]
    public static partial void BeaconVersion(ILogger logger, string remote, int peerVersion, int ourVersion);

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "udp link up: {Address} at {Remote} ({Direction}), neighbour {Neighbour}")]
    public static partial void LinkUp(ILogger logger, string address, string remote, string direction, long neighbour);

    [LoggerMessage(EventId = 311, Level = LogLevel.Information, Message = "udp link down: {Address} at {Remote}, neighbour {Neighbour}: {Reason}")]
    public static partial void LinkDown(ILogger logger, string address, string remote, long neighbour, string reason);

    [LoggerMessage(EventId = 312, Level = LogLevel.Debug, Message = "udp: second path to {Address} at {Remote} (neighbour {Neighbour} now has {Count})")]
    public static partial void PathAdded(ILogger logger, string address, string remote, long neighbour, int count);

    [LoggerMessage(EventId = 313, Level = LogLevel.Debug, Message = "udp: path to {Address} at {Remote} removed: {Reason}; neighbour {Neighbour} keeps {Count}")]
    public static partial void PathRemoved(ILogger logger, string address, string remote, string reason, long neighbour, int count);

    [LoggerMessage(EventId = 314, Level = LogLevel.Information, Message = "udp path to {Address} at {Remote} silent for {Seconds} s; dropped")]
    public static partial void PathSilent(ILogger logger, string address, string remote, double seconds);

    [LoggerMessage(EventId = 315, Level = LogLevel.Information, Message = "udp endpoint {Remote} now answers as {Address} instead of {Previous}")]
    public static partial void EndpointChangedRouter(ILogger logger, string remote, string address, string previous);

    [LoggerMessage(EventId = 320, Level = LogLevel.Warning, Message = "peer {Remote} speaks udp protocol v{PeerVersion}, this router speaks v{OurVersion}; link refused")]
    public static partial void VersionMismatch(ILogger logger, string remote, int peerVersion, int ourVersion);

    [LoggerMessage(EventId = 321, Level = LogLevel.Debug, Message = "peer {Remote} speaks udp protocol v{PeerVersion}, this router speaks v{OurVersion}; link refused (again)")]
    public static partial void VersionMismatchAgain(ILogger logger, string remote, int peerVersion, int ourVersion);

    [LoggerMessage(EventId = 322, Level = LogLevel.Debug, Message = "udp hello from {Remote} carries this router's own address; ignored")]
    public static partial void SelfHello(ILogger logger, string remote);

    [LoggerMessage(EventId = 323, Level = LogLevel.Warning, Message = "udp peer {Peer} is this router ({Address}); no longer greeting it")]
    public static partial void PeerIsSelf(ILogger logger, string peer, string address);

    [LoggerMessage(EventId = 325, Level = LogLevel.Debug, Message = "udp: {Kind} from {Remote}, which is no neighbour; answered with a hello")]
    public static partial void StrangerGreeted(ILogger logger, string kind, string remote);

    [LoggerMessage(EventId = 330, Level = LogLevel.Information, Message = "udp peer {Peer} has not answered: {Error}; greeting again in {DelaySeconds} s")]
    public static partial void PeerUnanswered(ILogger logger, string peer, string error, double delaySeconds);

    [LoggerMessage(EventId = 331, Level = LogLevel.Debug, Message = "udp peer {Peer} still has not answered: {Error}; greeting again in {DelaySeconds} s")]
    public static partial void PeerUnansweredAgain(ILogger logger, string peer, string error, double delaySeconds);

    [LoggerMessage(EventId = 332, Level = LogLevel.Information, Message = "udp peer {Peer}: {Error}")]
    public static partial void PeerProblem(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 333, Level = LogLevel.Debug, Message = "udp peer {Peer}: {Error} (again)")]
    public static partial void PeerProblemAgain(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 334, Level = LogLevel.Debug, Message = "udp send to {Remote} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, string remote, string error);

    [LoggerMessage(EventId = 335, Level = LogLevel.Debug, Message = "udp receive on {Endpoint} failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, string endpoint, string error);

    [LoggerMessage(EventId = 350, Level = LogLevel.Warning, Message = "udp: hellos, acks or beacons from {Address} are over HandshakeRatePerAddress ({Rate}/s); dropping the excess. {Dropped} dropped so far; said at most every 10 s")]
    public static partial void HandshakesRateLimited(ILogger logger, string address, int rate, long dropped);

    [LoggerMessage(EventId = 351, Level = LogLevel.Warning, Message = "udp: {Count} paths already learned from {Address} (MaxInboundPathsPerAddress); hello from {Remote} dropped. {Refused} refused so far; said at most every 10 s")]
    public static partial void TooManyPathsFromAddress(ILogger logger, int count, string address, string remote, long refused);

    [LoggerMessage(EventId = 352, Level = LogLevel.Warning, Message = "udp: {Count} paths already learned from hellos (MaxInboundPaths); hello from {Remote} dropped. {Refused} refused so far; said at most every 10 s")]
    public static partial void TooManyInboundPaths(ILogger logger, int count, string remote, long refused);

    [LoggerMessage(EventId = 336, Level = LogLevel.Information, Message = "udp peer {Peer} removed: no longer greeted, its link closed")]
    public static partial void PeerRemoved(ILogger logger, string peer);

    [LoggerMessage(EventId = 340, Level = LogLevel.Error, Message = "udp: unexpected failure in {Loop}")]
    public static partial void LoopFault(ILogger logger, string loop, Exception exception);

    [LoggerMessage(EventId = 341, Level = LogLevel.Warning, Message = "udp stop: loops still running after {Seconds} s; abandoned")]
    public static partial void StopTimedOut(ILogger logger, double seconds);
}
