namespace Router.Sdk;

/// <summary>
/// Identifies one neighbour (one live link to another router) inside one netmod.
/// The netmod chooses the values; they are unique within that netmod for its lifetime and
/// are not reused, so a frame queued for a neighbour that went away cannot reach a new one.
/// </summary>
/// <param name="Value">The netmod's own number for the neighbour. Zero is never used.</param>
public readonly record struct NeighbourId(long Value)
{
    /// <inheritdoc />
    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
