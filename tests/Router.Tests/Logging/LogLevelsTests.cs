using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Router.Configuration;
using Router.Logging;

namespace Router.Tests.Logging;

public sealed class LogLevelsTests
{
    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static ILoggerFactory Factory(LogLevels levels) =>
        LoggerFactory.Create(logging => RouterLogging.Configure(logging, levels, LogFormat.Text));

    [Fact]
    public void Set_DefaultCategory_ChangesExistingLoggersAtOnce()
    {
        var levels = new LogLevels(Configuration(("Logging:LogLevel:Default", "Warning")));
        using var factory = Factory(levels);
        var logger = factory.CreateLogger("Router.Switching.Switch");
        Assert.False(logger.IsEnabled(LogLevel.Information));

        levels.Set(LogLevels.DefaultCategory, LogLevel.Debug);

        Assert.True(logger.IsEnabled(LogLevel.Debug));
        Assert.False(logger.IsEnabled(LogLevel.Trace));
    }

    [Fact]
    public void Set_OneCategory_LeavesTheOthers()
    {
        var levels = new LogLevels(Configuration());
        using var factory = Factory(levels);
        var switching = factory.CreateLogger("Router.Switching.Switch");
        var routing = factory.CreateLogger("Router.Routing.RoutingService");

        levels.Set("Router.Switching", LogLevel.Trace);

        Assert.True(switching.IsEnabled(LogLevel.Trace));
        Assert.False(routing.IsEnabled(LogLevel.Debug));
        Assert.True(routing.IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void Set_CategoryWithAConsoleRuleInTheFile_StillWins()
    {
        var levels = new LogLevels(Configuration(("Logging:Console:LogLevel:Default", "Error")));
        using var factory = Factory(levels);
        var logger = factory.CreateLogger("Router.Hosting.NetmodHost");
        Assert.False(logger.IsEnabled(LogLevel.Warning));

        levels.Set(LogLevels.DefaultCategory, LogLevel.Information);

        Assert.True(logger.IsEnabled(LogLevel.Information));
    }

    [Fact]
    public void Reset_AfterSet_TheConfigurationAppliesAgain()
    {
        var levels = new LogLevels(Configuration(("Logging:LogLevel:Default", "Warning")));
        using var factory = Factory(levels);
        var logger = factory.CreateLogger("Router.Hosting.NetmodHost");
        levels.Set(LogLevels.DefaultCategory, LogLevel.Debug);

        Assert.True(levels.Reset());

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Warning));
        Assert.False(levels.Reset());
        Assert.Empty(levels.Describe().Overrides);
    }

    [Fact]
    public void Apply_ReloadedConfiguration_ReplacesTheFileLevelsAndDropsOverrides()
    {
        var levels = new LogLevels(Configuration(("Logging:LogLevel:Default", "Warning")));
        using var factory = Factory(levels);
        var logger = factory.CreateLogger("Router.Routing.RoutingService");
        levels.Set("Router.Routing", LogLevel.Trace);

        levels.Apply(Configuration(("Logging:LogLevel:Default", "Error"), ("Logging:LogLevel:Router.Routing", "Debug")));

        Assert.True(logger.IsEnabled(LogLevel.Debug));
        Assert.False(logger.IsEnabled(LogLevel.Trace));
        var (configured, overrides) = levels.Describe();
        Assert.Equal("Error", configured["Default"]);
        Assert.Equal("Debug", configured["Router.Routing"]);
        Assert.Empty(overrides);
    }

    [Fact]
    public void Describe_AfterSet_ShowsConfiguredAndOverriddenLevels()
    {
        var levels = new LogLevels(Configuration(("Logging:LogLevel:Default", "Information"), ("Logging:LogLevel:Router.Netmods.Inet", "Debug")));

        levels.Set("Router.Switching", LogLevel.Warning);

        var (configured, overrides) = levels.Describe();
        Assert.Equal(2, configured.Count);
        Assert.Equal("Debug", configured["Router.Netmods.Inet"]);
        Assert.Equal("Warning", Assert.Single(overrides).Value);
    }

    [Theory]
    [InlineData("Debug", true, LogLevel.Debug)]
    [InlineData("information", true, LogLevel.Information)]
    [InlineData("NONE", true, LogLevel.None)]
    [InlineData("2", false, LogLevel.None)]
    [InlineData("-1", false, LogLevel.None)]
    [InlineData("Verbose", false, LogLevel.None)]
    [InlineData("", false, LogLevel.None)]
    [InlineData(null, false, LogLevel.None)]
    public void TryParseLevel_Names_OnlyLevelNamesAccepted(string? text, bool ok, LogLevel expected)
    {
        Assert.Equal(ok, LogLevels.TryParseLevel(text, out var level));
        if (ok)
        {
            Assert.Equal(expected, level);
        }
    }

    [Theory]
    [InlineData("Default", true)]
    [InlineData("Router.Netmods.Inet", true)]
    [InlineData("Microsoft.AspNetCore.*", true)]
    [InlineData("Logging:LogLevel", false)]
    [InlineData("has space", false)]
    [InlineData("", false)]
    public void Set_Category_OnlyCategoryNamesAccepted(string category, bool ok)
    {
        var levels = new LogLevels(Configuration());
        if (ok)
        {
            levels.Set(category, LogLevel.Debug);
        }
        else
        {
            Assert.Throws<ArgumentException>(() => levels.Set(category, LogLevel.Debug));
        }
    }

    [Theory]
    [InlineData(null, "Text")]
    [InlineData("text", "Text")]
    [InlineData("JSON", "Json")]
    public void ReadFormat_KnownFormats_Parsed(string? text, string format)
    {
        var expected = Enum.Parse<LogFormat>(format);
        var problems = new List<string>();
        var section = Configuration(text is null ? [] : [("Router:LogFormat", text)]).GetSection(RouterOptions.SectionName);

        Assert.Equal(expected, RouterLogging.ReadFormat(section, problems));
        Assert.Empty(problems);
    }

    [Fact]
    public void ReadRouterOptions_UnknownLogFormat_IsAProblemNamingTheKey()
    {
        var configuration = RouterConfiguration.InMemory([new("Router:LogFormat", "xml")], Path.GetTempPath());
        var problems = new List<string>();

        configuration.ReadRouterOptions(problems);

        Assert.Equal("Router:LogFormat: 'xml' is not a log format; use text or json.", Assert.Single(problems));
    }
}
