using System.Net;
using System.Text.Json;
using Router.IntegrationTests;

namespace Router.Dashboard.Tests;

/// <summary>Dashboard settings for test routers, and an HTTP client for one router's dashboard.</summary>
internal sealed class DashboardClient : IDisposable
{
    /// <summary>Routing timers fast enough that routes follow a cut link within a couple of seconds.</summary>
    public const string FastRouting = """, "HelloIntervalSeconds": 0.5, "UpdateIntervalSeconds": 2""";

    /// <summary>No dashboard: routers that are only part of the mesh must not compete for a port.</summary>
    public const string Off = """, "Dashboard": { "Enabled": false }""";

    public DashboardClient(int port)
    {
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(15) };
    }

    public int Port { get; }

    public HttpClient Http { get; }

    /// <summary>The Router section lines of a dashboard listening on 127.0.0.1:<paramref name="port"/>.</summary>
    public static string On(int port) => $$""", "Dashboard": { "Listen": "127.0.0.1:{{port}}" }""";

    public async Task<JsonElement> SnapshotAsync()
    {
        using var response = await Http.GetAsync("api/snapshot");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public async Task<HttpStatusCode> StatusOfAsync(HttpMethod method, string path, string? host = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        if (method == HttpMethod.Post)
        {
            request.Content = new StringContent("hello");
        }

        using var response = await Http.SendAsync(request);
        return response.StatusCode;
    }

    public void Dispose() => Http.Dispose();
}
