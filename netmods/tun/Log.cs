using Microsoft.Extensions.Logging;

namespace Router.Netmods.Tun;

/// <summary>
/// Every log message of the tun netmod, source-generated. Event ids are fixed here, in one
/// place (400–499, clear of inet's 100–199 and udp's 300–399), so operators can filter on them;
/// they are never reused for another meaning. Nothing is logged per packet: complaints about
/// packets are logged at most once every 10 s per kind, with the count so far.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "tun device {Name} up (index {Index}, MTU {Mtu}, txqueuelen {TxQueueLength}, offload {Offload}, GRO {Gro}): overlay address {Overlay}/16{Addresses}")]
    public static partial void DeviceUp(ILogger logger, string name, int index, int mtu, int txQueueLength, bool offload, string gro, string overlay, string addresses);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "tun device {Name} closed; the kernel removed it with its addresses and routes")]
    public static partial void DeviceClosed(ILogger logger, string name);

    [LoggerMessage(EventId = 402, Level = LogLevel.Debug, Message = "tun: route to {Prefix} through {Name} added")]
    public static partial void RouteAdded(ILogger logger, string prefix, string name);

    [LoggerMessage(EventId = 403, Level = LogLevel.Debug, Message = "tun: route to {Prefix} through {Name} removed")]
    public static partial void RouteRemoved(ILogger logger, string prefix, string name);

    [LoggerMessage(EventId = 404, Level = LogLevel.Warning, Message = "tun: cannot add a route to mesh prefix {Prefix} through {Name}: {Error}; trying again with the next change of mesh prefixes")]
    public static partial void RouteAddFailed(ILogger logger, string prefix, string name, string error);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "tun: cannot remove the route to former mesh prefix {Prefix} through {Name}: {Error}; trying again with the next change of mesh prefixes")]
    public static partial void RouteRemoveFailed(ILogger logger, string prefix, string name, string error);

    [LoggerMessage(EventId = 406, Level = LogLevel.Information, Message = "tun: routes through {Name} now cover {Count} mesh prefixes ({Added} added, {Removed} removed)")]
    public static partial void RoutesChanged(ILogger logger, string name, int count, int added, int removed);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "tun: cannot set the GRO timeout of {Name}, so written TCP segments are not merged (slower for senders without offloads): {Problem}. Run the router with a /sys mounted for its network namespace (ip netns exec does), or set GroTimeoutMicroseconds to 0")]
    public static partial void CoalescingUnavailable(ILogger logger, string name, string problem);

    [LoggerMessage(EventId = 410, Level = LogLevel.Warning, Message = "tun: reading {Name} failed: {Error}. {Count} read errors so far; said at most every 10 s")]
    public static partial void ReadFailed(ILogger logger, string name, string error, long count);

    [LoggerMessage(EventId = 411, Level = LogLevel.Warning, Message = "tun: writing to {Name} failed: {Error}. {Count} write errors so far; said at most every 10 s")]
    public static partial void WriteFailed(ILogger logger, string name, string error, long count);

    [LoggerMessage(EventId = 412, Level = LogLevel.Warning, Message = "tun: dropped a frame from the mesh for {Name}: {Problem}. {Count} malformed frames so far; said at most every 10 s")]
    public static partial void MalformedFrame(ILogger logger, string name, string problem, long count);

    [LoggerMessage(EventId = 413, Level = LogLevel.Debug, Message = "tun: dropped a packet read from {Name} that is not IPv4 or IPv6. {Count} so far; said at most every 10 s")]
    public static partial void NonIpPacket(ILogger logger, string name, long count);

    [LoggerMessage(EventId = 420, Level = LogLevel.Error, Message = "tun: unexpected failure of the reader of {Name}; no more packets are read from it")]
    public static partial void ReaderFault(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = 421, Level = LogLevel.Warning, Message = "tun stop: the reader of {Name} did not finish within {Seconds} s; closing the device anyway")]
    public static partial void ReaderStopTimedOut(ILogger logger, string name, double seconds);
}
