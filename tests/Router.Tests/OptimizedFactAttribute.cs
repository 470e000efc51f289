using System.Diagnostics;
using System.Reflection;

namespace Router.Tests;

/// <summary>
/// A fact about optimised code (allocation counts): skipped when the router was built in Debug,
/// where the compiler makes every async state machine a heap object on purpose. The README's
/// test command builds Release, so CI runs these.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OptimizedFactAttribute : FactAttribute
{
    public OptimizedFactAttribute()
    {
        var debuggable = typeof(Router.Switching.Switch).Assembly.GetCustomAttribute<DebuggableAttribute>();
        if (debuggable?.IsJITOptimizerDisabled == true)
        {
            Skip = "the router assembly is a Debug build; run the tests with -c Release to measure allocations";
        }
    }
}
