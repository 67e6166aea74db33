using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>One prediction as the API receives it.</summary>
public sealed record Prediction(
    string PredictionId,
    string Model,
    string Version,
    string Predicted,
    string? Actual,
    double? Score = null,
    string? Timestamp = null,
    IReadOnlyDictionary<string, string>? Segments = null);

/// <summary>A response: status, raw body and, when the body is JSON, its root element.</summary>
public sealed record ApiResponse(HttpStatusCode Status, string? ContentType, string Body)
{
    public JsonElement Json
    {
        get
        {
            using var doc = JsonDocument.Parse(Body);
            return doc.RootElement.Clone();
        }
    }

    public override string ToString() => $"{(int)Status} {ContentType}: {(Body.Length > 2000 ? Body[..2000] + "…" : Body)}";
}

/// <summary>Thin client for the silo's HTTP API. Every answer is checked never to be a 5xx.</summary>
public sealed class SiloApi : IDisposable
{
    public const string NdjsonContentType = "application/x-ndjson";

    private readonly Func<string> _diagnostics;

    public SiloApi(Uri baseAddress, Func<string> diagnostics)
    {
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        _diagnostics = diagnostics;
    }

    public HttpClient Http { get; }

    public string Diagnostics => _diagnostics();

    public static string Path(params string[] segments) => string.Join('/', segments.Select(Uri.EscapeDataString));

    public static string MatrixPath(string model, string version, string segment, string? window = null) =>
        $"api/v1/models/{Path(model)}/versions/{Path(version)}/segments/{Path(segment)}/matrix" + (window is null ? "" : $"?window={Uri.EscapeDataString(window)}");

    public static string BaselinePath(string model, string version, string segment) =>
        $"api/v1/models/{Path(model)}/versions/{Path(version)}/segments/{Path(segment)}/baseline";

    public async Task<ApiResponse> SendAsync(HttpRequestMessage request)
    {
        using var response = await Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        var result = new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, body);
        Assert.True(
            (int)response.StatusCode < 500,
            $"{request.Method} {request.RequestUri} answered {result}\n{Diagnostics}");
        return result;
    }

    public Task<ApiResponse> GetAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Get, path));

    public Task<ApiResponse> DeleteAsync(string path) => SendAsync(new HttpRequestMessage(HttpMethod.Delete, path));

    public Task<ApiResponse> SendRawAsync(HttpMethod method, string path, string body, string contentType = "application/json") =>
        SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, contentType) });

    public Task<ApiResponse> PostJsonAsync(string path, object value) =>
        SendRawAsync(HttpMethod.Post, path, JsonSerializer.Serialize(value, JsonSerializerOptions.Web));

    public Task<ApiResponse> PutJsonAsync(string path, object value) =>
        SendRawAsync(HttpMethod.Put, path, JsonSerializer.Serialize(value, JsonSerializerOptions.Web));

    public async Task<JsonElement> RegisterModelAsync(string model, IReadOnlyList<string> classes, string? positiveClass, IReadOnlyList<string> segmentDimensions)
    {
        var response = await PostJsonAsync("api/v1/models", new { model, classes, positiveClass, segmentDimensions });
        Expect.Status(HttpStatusCode.OK, response);
        return response.Json;
    }

    /// <summary>Posts predictions as a JSON array.</summary>
    public Task<ApiResponse> PostPredictionsAsync(IEnumerable<Prediction> predictions)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var p in predictions)
            {
                Write(writer, p);
            }

            writer.WriteEndArray();
        }

        return SendBytesAsync(buffer.ToArray(), "application/json");
    }

    /// <summary>Posts predictions as NDJSON, one object per line.</summary>
    public Task<ApiResponse> PostPredictionsNdjsonAsync(IEnumerable<Prediction> predictions) =>
        PostNdjsonLinesAsync(predictions.Select(ToJson));

    public Task<ApiResponse> PostNdjsonLinesAsync(IEnumerable<string> lines) =>
        SendBytesAsync(Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"), NdjsonContentType);

    public Task<ApiResponse> SendBytesAsync(byte[] body, string contentType, string path = "api/v1/predictions")
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };

        // With 100-continue the server can refuse an oversized body before it is sent, instead of resetting the connection under it.
        request.Headers.ExpectContinue = body.Length > 1024 * 1024;
        return SendAsync(request);
    }

    public static string ToJson(Prediction p)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, p);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public async Task<JsonElement> GetMatrixAsync(string model, string version, string segment, string? window = null)
    {
        var response = await GetAsync(MatrixPath(model, version, segment, window));
        Expect.Status(HttpStatusCode.OK, response);
        return response.Json;
    }

    /// <summary>Polls a matrix until its total reaches <paramref name="expectedTotal"/>; fails if it overshoots or the deadline passes.</summary>
    public async Task<JsonElement> WaitForTotalAsync(string model, string version, string segment, long expectedTotal, string? window = null, TimeSpan? deadline = null)
    {
        var matrix = await Eventually.MatchesAsync(
            () => GetMatrixAsync(model, version, segment, window),
            m => m.GetProperty("total").GetInt64() >= expectedTotal,
            $"{model}/{version}/{segment} (window {window ?? "all"}) reaching {expectedTotal} predictions",
            deadline,
            TimeSpan.FromMilliseconds(100),
            m => $"{m.GetProperty("total").GetInt64()} predictions\n{Diagnostics}");
        Expect.Equal(expectedTotal, matrix.GetProperty("total").GetInt64(), $"{model}/{version}/{segment} counted more predictions than were sent");
        return matrix;
    }

    /// <summary>
    /// Reads a matrix's total again and again for <paramref name="hold"/> and fails on any other value: a late
    /// redelivery counted twice would show up here.
    /// </summary>
    public async Task HoldTotalAsync(string model, string version, string segment, long expectedTotal, TimeSpan hold)
    {
        var clock = Stopwatch.StartNew();
        do
        {
            Assert.Equal(expectedTotal, (await GetMatrixAsync(model, version, segment)).GetProperty("total").GetInt64());
            await Task.Delay(100);
        }
        while (clock.Elapsed < hold);
    }

    public void Dispose() => Http.Dispose();

    private static void Write(Utf8JsonWriter w, Prediction p)
    {
        w.WriteStartObject();
        w.WriteString("predictionId", p.PredictionId);
        w.WriteString("model", p.Model);
        w.WriteString("version", p.Version);
        w.WriteString("predicted", p.Predicted);
        if (p.Actual is not null)
        {
            w.WriteString("actual", p.Actual);
        }
        if (p.Score is { } score)
        {
            w.WriteNumber("score", score);
        }

        if (p.Timestamp is { } ts)
        {
            w.WriteString("timestamp", ts);
        }

        if (p.Segments is { } segments)
        {
            w.WriteStartObject("segments");
            foreach (var (k, v) in segments)
            {
                w.WriteString(k, v);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
    }
}
