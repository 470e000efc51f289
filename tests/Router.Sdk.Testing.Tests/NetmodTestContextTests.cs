using Microsoft.Extensions.Logging;
using Router.Sdk.Testing;

namespace Router.Sdk.Testing.Tests;

public sealed class NetmodTestContextTests
{
    [Fact]
    public void Create_Settings_AreUnderTheNetmodsSectionPath()
    {
        using var logs = new CapturingLoggerProvider();
        var address = NetmodTestContext.RandomAddress();

        var context = NetmodTestContext.Create("demo", new Dictionary<string, string?> { ["Listen:0"] = "127.0.0.1:0" }, address, logs);

        Assert.Equal("demo", context.Name);
        Assert.Equal(address, context.LocalAddress);
        Assert.Same(TimeProvider.System, context.Time);
        var section = Assert.IsAssignableFrom<Microsoft.Extensions.Configuration.IConfigurationSection>(context.Configuration);
        Assert.Equal("Netmods:demo", section.Path);
        Assert.Equal("127.0.0.1:0", section["Listen:0"]);
    }

    [Fact]
    public void RandomAddress_TwoCalls_Differ() =>
        Assert.NotEqual(NetmodTestContext.RandomAddress(), NetmodTestContext.RandomAddress());

    [Fact]
    public void CapturingLoggerProvider_Log_KeepsLevelIdAndMessage()
    {
        using var logs = new CapturingLoggerProvider();

        logs.CreateLogger("any").LogDebug(new EventId(42), "hello {Name}", "world");

        Assert.Equal(new CapturedLogEntry(LogLevel.Debug, new EventId(42), "hello world"), Assert.Single(logs.Entries));
        Assert.True(logs.Has(42, m => m == "hello world"));
        Assert.False(logs.Has(43));
    }

    [Fact]
    public async Task Eventually_ConditionNeverTrue_ThrowsNamingWhat()
    {
        var error = await Assert.ThrowsAsync<TimeoutException>(() => Eventually.TrueAsync(() => false, "pigs fly", TimeSpan.FromMilliseconds(50)));

        Assert.Equal("timed out waiting until pigs fly", error.Message);
    }
}
