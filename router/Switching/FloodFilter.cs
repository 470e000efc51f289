using Router.Sdk;

namespace Router.Switching;

/// <summary>
/// Remembers which flooded slices (source, message id, offset) this router has seen, so each is
/// delivered and passed on once. Memory is bounded: two generations of at most
/// <c>capacity</c> entries; when the current one fills, the older is forgotten. A slice is
/// remembered for at least one generation, which at flood rates far exceeds the time a flood
/// takes to cross the mesh. Thread-safe (floods are rare; a lock is fine).
/// </summary>
internal sealed class FloodFilter(int capacity)
{
    private readonly object _gate = new();
    private HashSet<(RouterAddress, uint, uint)> _current = new(capacity);
    private HashSet<(RouterAddress, uint, uint)> _previous = new(capacity);

    /// <summary>Records a slice; false when it was already seen.</summary>
    public bool TryAdd(RouterAddress source, uint messageId, uint offset)
    {
        var key = (source, messageId, offset);
        lock (_gate)
        {
            if (_previous.Contains(key) || !_current.Add(key))
            {
                return false;
            }

            if (_current.Count >= capacity)
            {
                (_previous, _current) = (_current, _previous);
                _current.Clear();
            }

            return true;
        }
    }
}
