using System.Diagnostics.CodeAnalysis;

namespace Router.Fuzz;

/// <summary>A consistency check of a fuzz target failed: the parser accepted something it should not have, or the wrong value.</summary>
internal sealed class FuzzCheckException(string message) : Exception(message);

/// <summary>
/// Assertions for fuzz targets. Unlike xunit's, they allocate nothing when they pass (the
/// message is built only on failure), so they do not spoil the allocation measurements.
/// </summary>
internal static class Check
{
    [DoesNotReturn]
    public static void Fail(string message) => throw new FuzzCheckException(message);
}
