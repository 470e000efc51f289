namespace Router.Sdk;

/// <summary>
/// Optional netmod feature (see <see cref="Netmod.GetFeature{TFeature}"/>): named event
/// counters — limits hit, hostile input refused, frames too large — that <c>router status</c>
/// shows under the netmod.
/// </summary>
public interface INetmodCountersFeature
{
    /// <summary>
    /// Every counter: a stable camelCase name and its count since the netmod was created (it
    /// only grows), always in the same order. Thread-safe, no I/O; callable before start and
    /// after stop.
    /// </summary>
    IReadOnlyList<KeyValuePair<string, long>> GetCounters();
}
