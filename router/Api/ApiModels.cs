using System.Text.Json.Serialization;

namespace Router.Api;

// The local API's JSON documents. Field names are a user-facing contract (DESIGN.md):
// `router status --json` prints StatusResponse as is.

internal sealed record StatusResponse(
    string Address,
    string Version,
    string SdkVersion,
    DateTimeOffset StartedAt,
    double UptimeSeconds,
    IReadOnlyList<NetmodInfo> Netmods,
    IReadOnlyList<PeerInfo> Peers,
    CounterInfo Counters,
    OverlayInfo Overlay);

/// <summary>IP over the mesh: this router's overlay address, its IP interface, the announced prefixes and packet counters.</summary>
internal sealed record OverlayInfo(
    string Address,
    string? Interface,
    IReadOnlyList<PrefixInfo> Prefixes,
    IReadOnlyList<PrefixInfo> Conflicts,
    IReadOnlyDictionary<string, long> Counters);

/// <summary>An announced prefix: the router its packets go to and every router announcing it (more than one: a conflict).</summary>
internal sealed record PrefixInfo(string Prefix, string Router, IReadOnlyList<string> Claimants);

/// <summary>
/// A netmod: what it is, its own counters (<c>INetmodCountersFeature</c>), the frames and bytes the
/// core read from it and sent through it, and the frames the switch dropped on it, by reason.
/// </summary>
internal sealed record NetmodInfo(
    string Name,
    string Version,
    string State,
    int MaxFrameSize,
    string Path,
    string? Error,
    IReadOnlyDictionary<string, long>? Counters,
    TrafficInfo Traffic,
    IReadOnlyDictionary<string, long> FramesDropped);

/// <summary>Frames and bytes in (read from the link) and out (sent on it).</summary>
internal sealed record TrafficInfo(long FramesIn, long BytesIn, long FramesOut, long BytesOut);

internal sealed record PeerInfo(
    string? Address,
    string Netmod,
    string State,
    string Endpoint,
    bool Inbound,
    DateTimeOffset Since,
    string? LastError,
    string? Link,
    TrafficInfo? Traffic);

internal sealed record CounterInfo(
    long FramesReceived,
    long FramesForwarded,
    long FramesDeliveredLocally,
    IReadOnlyDictionary<string, long> FramesDropped,
    long MessagesDelivered,
    long MessagesDroppedUndelivered,
    long MessagesWaiting,
    long ReassemblyPending,
    long ReassemblyBufferedBytes,
    long ReassemblyTimedOut,
    long ReassemblyOverLimit,
    long ReassemblyOverSourceLimit,
    int Routes,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Security);

internal sealed record SendResponse(string To, uint MessageId, int Bytes);

/// <summary>A selected route: where frames for <see cref="Destination"/> go next.</summary>
internal sealed record RouteInfo(string Destination, string NextHop, string Netmod, int Metric, int Seqno, double AgeSeconds, string OverlayAddress, IReadOnlyList<string> Prefixes);

/// <summary>
/// The outcome of one echo (<c>POST /v1/echo</c>). Result is <c>reply</c>, <c>hopLimitExceeded</c>
/// (From is the router where the hops ran out), <c>timeout</c> or <c>noRoute</c>.
/// </summary>
internal sealed record EchoResponse(string Result, string? From, double RttMs, int HopLimit);

internal sealed record ErrorResponse(string Error);

/// <summary>One message in the <c>GET /v1/messages</c> stream (NDJSON, one per line); Payload is base64.</summary>
internal sealed record MessageRecord(string From, uint MessageId, DateTimeOffset ReceivedAt, int Length, byte[] Payload);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(StatusResponse))]
[JsonSerializable(typeof(IReadOnlyList<PeerInfo>))]
[JsonSerializable(typeof(SendResponse))]
[JsonSerializable(typeof(IReadOnlyList<RouteInfo>))]
[JsonSerializable(typeof(EchoResponse))]
[JsonSerializable(typeof(IReadOnlyList<EchoResponse>))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MessageRecord))]
internal sealed partial class ApiJson : JsonSerializerContext;
