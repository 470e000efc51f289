using Microsoft.Extensions.Logging;

namespace Sample.Link;

/// <summary>Everything the netmod logs, each message with its own event id.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "sample-link listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "sample-link neighbour {Endpoint} up")]
    public static partial void NeighbourUp(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "sample-link neighbour {Endpoint} down: {Reason}")]
    public static partial void NeighbourDown(ILogger logger, string endpoint, string reason);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "sample-link cannot resolve peer {Peer}: {Error}")]
    public static partial void PeerUnresolved(ILogger logger, string peer, string error);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "sample-link receive failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, string error);
}
