using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Serialization.Metadata;
using Router.Api;

namespace Router.Cli;

/// <summary>Talks to a running router's local API over its Unix socket.</summary>
internal sealed class ApiClient : IDisposable
{
    private readonly HttpClient _http;

    public ApiClient(string socketPath)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://router/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public string SocketPath { get; }

    public Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), type, HttpCompletionOption.ResponseContentRead, cancellationToken);

    public Task<T> PostAsync<T>(string path, HttpContent content, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = content }, type, HttpCompletionOption.ResponseContentRead, cancellationToken);

    public Task<T> DeleteAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Delete, path), type, HttpCompletionOption.ResponseContentRead, cancellationToken);

    /// <summary>
    /// A POST whose answer is <typeparamref name="T"/> also with status <paramref name="alsoAccepted"/>
    /// (<c>router reload</c>: a rejected configuration comes back as 422 with every problem listed).
    /// </summary>
    public async Task<T> PostAcceptingAsync<T>(string path, JsonTypeInfo<T> type, HttpStatusCode alsoAccepted, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent([]) };
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException($"cannot reach a router at {SocketPath}: {e.InnerException?.Message ?? e.Message}. Is it running?");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode && response.StatusCode != alsoAccepted)
            {
                throw new ApiException($"the router answered {(int)response.StatusCode} {response.ReasonPhrase}", response.StatusCode);
            }

            return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
                ?? throw new ApiException("the router sent an empty answer");
        }
    }

    /// <summary>Opens a streaming response (for <c>listen</c>).</summary>
    public async Task<Stream> OpenStreamAsync(string path, CancellationToken cancellationToken)
    {
        var response = await SendRawAsync(new HttpRequestMessage(HttpMethod.Get, path), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T> type, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        using var response = await SendRawAsync(request, completion, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
            ?? throw new ApiException("the router sent an empty answer");
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new ApiException($"cannot reach a router at {SocketPath}: {e.InnerException?.Message ?? e.Message}. Is it running?");
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            ErrorResponse? error = null;
            try
            {
                error = await response.Content.ReadFromJsonAsync(ApiJson.Default.ErrorResponse, cancellationToken).ConfigureAwait(false);
            }
            catch (System.Text.Json.JsonException)
            {
            }

            throw new ApiException(error?.Error ?? $"the router answered {(int)response.StatusCode} {response.ReasonPhrase}", response.StatusCode);
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A failed API call, with a message for the user.</summary>
internal sealed class ApiException : Exception
{
    public ApiException(string message, HttpStatusCode? status = null) : base(message)
    {
        Status = status;
    }

    public HttpStatusCode? Status { get; }
}
