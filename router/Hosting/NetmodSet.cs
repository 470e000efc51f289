namespace Router.Hosting;

/// <summary>
/// The running netmods, for the parts of the core that send on all of them (floods). Written by
/// <see cref="NetmodHost"/> when a netmod starts or stops; read without a lock (an immutable
/// array swapped whole).
/// </summary>
internal sealed class NetmodSet
{
    private readonly object _gate = new();
    private volatile NetmodInstance[] _running = [];

    public NetmodInstance[] Running => _running;

    public void Add(NetmodInstance instance)
    {
        lock (_gate)
        {
            _running = [.. _running, instance];
        }
    }

    public void Remove(NetmodInstance instance)
    {
        lock (_gate)
        {
            _running = _running.Where(i => i != instance).ToArray();
        }
    }
}
