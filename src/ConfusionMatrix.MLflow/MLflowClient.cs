using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConfusionMatrix.MLflow;

/// <summary>Where an MLflow tracking server is and how to authenticate (MLflow's own MLFLOW_TRACKING_* conventions).</summary>
public sealed class MLflowOptions
{
    /// <summary>The tracking server, e.g. <c>http://mlflow:5000</c>.</summary>
    public Uri? TrackingUri { get; set; }

    /// <summary>Sent as <c>Authorization: Bearer</c> when set (MLFLOW_TRACKING_TOKEN).</summary>
    public string? Token { get; set; }

    /// <summary>Basic authentication, when no token is set (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD).</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Null when usable; else a one-line reason naming <paramref name="key"/>.</summary>
    public string? Validate(string key)
    {
        if (TrackingUri is null)
        {
            return $"{key}:TrackingUri is not set";
        }

        if (!TrackingUri.IsAbsoluteUri || (TrackingUri.Scheme != Uri.UriSchemeHttp && TrackingUri.Scheme != Uri.UriSchemeHttps))
        {
            return $"{key}:TrackingUri must be an absolute http(s) URL (got '{TrackingUri}')";
        }

        return Password is not null && Username is null ? $"{key}:Password is set without {key}:Username" : null;
    }

    /// <summary>Reads MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.</summary>
    public static MLflowOptions FromEnvironment(string? trackingUriOverride = null)
    {
        var uri = trackingUriOverride ?? Environment.GetEnvironmentVariable("MLFLOW_TRACKING_URI");
        return new MLflowOptions
        {
            TrackingUri = Uri.TryCreate(uri, UriKind.Absolute, out var parsed) ? parsed : null,
            Token = Environment.GetEnvironmentVariable("MLFLOW_TRACKING_TOKEN"),
            Username = Environment.GetEnvironmentVariable("MLFLOW_TRACKING_USERNAME"),
            Password = Environment.GetEnvironmentVariable("MLFLOW_TRACKING_PASSWORD"),
        };
    }
}

/// <summary>An answer of the MLflow server that is not a success; <see cref="ErrorCode"/> is MLflow's (e.g. RESOURCE_DOES_NOT_EXIST).</summary>
public sealed class MLflowException(string message, HttpStatusCode? statusCode, string? errorCode, Exception? inner = null)
    : Exception(message, inner)
{
    /// <summary>Null when the server could not be reached at all.</summary>
    public HttpStatusCode? StatusCode { get; } = statusCode;

    public string? ErrorCode { get; } = errorCode;

    /// <summary>The server said the model, alias, version, run or artifact does not exist (a caller's mistake, not an outage).</summary>
    public bool IsNotFound => StatusCode == HttpStatusCode.NotFound || ErrorCode == "RESOURCE_DOES_NOT_EXIST";

    /// <summary>The server refused the request as invalid or unauthorized (a caller's mistake, not an outage).</summary>
    public bool IsClientError => StatusCode is { } s && (int)s is >= 400 and < 500;
}

public sealed record MLflowModelVersion(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("run_id")] string? RunId,
    [property: JsonPropertyName("source")] string? Source);

public sealed record MLflowRunInfo(
    [property: JsonPropertyName("run_id")] string RunId,
    [property: JsonPropertyName("experiment_id")] string? ExperimentId,
    [property: JsonPropertyName("artifact_uri")] string? ArtifactUri);

public sealed record MLflowFileInfo(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("is_dir")] bool IsDir,
    [property: JsonPropertyName("file_size")] long? FileSize);

/// <summary>A baseline found in MLflow: the matrix and where it came from.</summary>
public sealed record MLflowBaseline(MLflowModelReference Reference, MLflowModelVersion ModelVersion, MLflowRunInfo Run, ConfusionMatrixArtifact Matrix);

/// <summary>
/// The few MLflow REST endpoints (API 2.0) that move confusion-matrix baselines: <c>registered-models/alias</c>,
/// <c>model-versions/get</c>, <c>runs/get</c>, <c>artifacts/list</c>, artifact download and upload through the tracking
/// server's artifact proxy (<c>/api/2.0/mlflow-artifacts/artifacts/…</c>), and <c>model-versions/set-tag</c>.
/// </summary>
public sealed class MLflowClient
{
    private const string Api = "api/2.0/mlflow/";
    private const string ArtifactProxy = "api/2.0/mlflow-artifacts/artifacts/";

    private readonly HttpClient _http;

    /// <summary><paramref name="http"/> is used as given; its base address is replaced by the tracking URI.</summary>
    public MLflowClient(HttpClient http, MLflowOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate("MLflow") is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        var root = options.TrackingUri!.ToString();
        http.BaseAddress = new Uri(root.EndsWith('/') ? root : root + "/");
        if (options.Token is { Length: > 0 } token)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        else if (options.Username is { } user)
        {
            var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{options.Password}"));
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", basic);
        }

        _http = http;
    }

    public async Task<MLflowModelVersion> GetModelVersionByAliasAsync(string model, string alias, CancellationToken cancellationToken = default)
    {
        var answer = await GetJsonAsync<ModelVersionEnvelope>(
            $"{Api}registered-models/alias?name={Uri.EscapeDataString(model)}&alias={Uri.EscapeDataString(alias)}",
            $"alias '{alias}' of registered model '{model}'",
            cancellationToken).ConfigureAwait(false);
        return answer.ModelVersion ?? throw Missing($"alias '{alias}' of registered model '{model}'");
    }

    public async Task<MLflowModelVersion> GetModelVersionAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        var answer = await GetJsonAsync<ModelVersionEnvelope>(
            $"{Api}model-versions/get?name={Uri.EscapeDataString(model)}&version={Uri.EscapeDataString(version)}",
            $"version {version} of registered model '{model}'",
            cancellationToken).ConfigureAwait(false);
        return answer.ModelVersion ?? throw Missing($"version {version} of registered model '{model}'");
    }

    /// <summary>The model version an alias or number names.</summary>
    public Task<MLflowModelVersion> ResolveAsync(MLflowModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Alias is { } alias
            ? GetModelVersionByAliasAsync(reference.Model, alias, cancellationToken)
            : GetModelVersionAsync(reference.Model, reference.Version!, cancellationToken);
    }

    public async Task<MLflowRunInfo> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        var answer = await GetJsonAsync<RunEnvelope>($"{Api}runs/get?run_id={Uri.EscapeDataString(runId)}", $"run {runId}", cancellationToken).ConfigureAwait(false);
        return answer.Run?.Info ?? throw Missing($"run {runId}");
    }

    public async Task<IReadOnlyList<MLflowFileInfo>> ListArtifactsAsync(string runId, string? path = null, CancellationToken cancellationToken = default)
    {
        var query = $"{Api}artifacts/list?run_id={Uri.EscapeDataString(runId)}" + (path is null ? "" : $"&path={Uri.EscapeDataString(path)}");
        var answer = await GetJsonAsync<ArtifactListEnvelope>(query, $"artifacts of run {runId}", cancellationToken).ConfigureAwait(false);
        return answer.Files ?? [];
    }

    /// <summary>Downloads one artifact of a run through the tracking server's artifact proxy.</summary>
    public async Task<byte[]> DownloadArtifactAsync(MLflowRunInfo run, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, ArtifactAddress(run, path)), $"artifact {path} of run {run.RunId}", cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads one artifact to a run through the tracking server's artifact proxy (servers started with artifact serving).</summary>
    public async Task UploadArtifactAsync(MLflowRunInfo run, string path, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(run);
        var request = new HttpRequestMessage(HttpMethod.Put, ArtifactAddress(run, path)) { Content = new ByteArrayContent(content) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await SendAsync(request, $"upload of {path} to run {run.RunId}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets a tag on a model version, e.g. the live matrix or the latest verdict.</summary>
    public async Task SetModelVersionTagAsync(string model, string version, string key, string value, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"{Api}model-versions/set-tag")
        {
            Content = JsonContent.Create(new Dictionary<string, string> { ["name"] = model, ["version"] = version, ["key"] = key, ["value"] = value }),
        };
        using var response = await SendAsync(request, $"tag {key} of version {version} of '{model}'", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Alias or version → model version → run → <c>confusion_matrix.json</c>.</summary>
    public async Task<MLflowBaseline> GetBaselineAsync(MLflowModelReference reference, CancellationToken cancellationToken = default)
    {
        var (version, run) = await ResolveRunAsync(reference, cancellationToken).ConfigureAwait(false);
        var files = await ListArtifactsAsync(run.RunId, null, cancellationToken).ConfigureAwait(false);
        if (!files.Any(f => !f.IsDir && f.Path == ConfusionMatrixArtifact.FileName))
        {
            throw new MLflowException(
                $"run {run.RunId} of {reference} has no {ConfusionMatrixArtifact.FileName} artifact (found: {(files.Count == 0 ? "none" : string.Join(", ", files.Select(f => f.Path)))})",
                HttpStatusCode.NotFound,
                "RESOURCE_DOES_NOT_EXIST");
        }

        var bytes = await DownloadArtifactAsync(run, ConfusionMatrixArtifact.FileName, cancellationToken).ConfigureAwait(false);
        ConfusionMatrixArtifact matrix;
        try
        {
            matrix = ConfusionMatrixArtifact.Parse(bytes);
        }
        catch (FormatException ex)
        {
            throw new MLflowException($"{reference}: {ex.Message}", HttpStatusCode.UnprocessableEntity, "INVALID_PARAMETER_VALUE", ex);
        }

        return new MLflowBaseline(reference, version, run, matrix);
    }

    /// <summary>Writes <c>confusion_matrix.json</c> into the run of the referenced model version.</summary>
    public async Task<MLflowRunInfo> PutBaselineAsync(MLflowModelReference reference, ConfusionMatrixArtifact matrix, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var (_, run) = await ResolveRunAsync(reference, cancellationToken).ConfigureAwait(false);
        await UploadArtifactAsync(run, ConfusionMatrixArtifact.FileName, matrix.Validate().ToUtf8Json(), cancellationToken).ConfigureAwait(false);
        return run;
    }

    private async Task<(MLflowModelVersion Version, MLflowRunInfo Run)> ResolveRunAsync(MLflowModelReference reference, CancellationToken cancellationToken)
    {
        var version = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(version.RunId))
        {
            throw new MLflowException($"{reference} (version {version.Version}) was registered without a run, so it has no run artifacts", HttpStatusCode.NotFound, "RESOURCE_DOES_NOT_EXIST");
        }

        var run = await GetRunAsync(version.RunId, cancellationToken).ConfigureAwait(false);
        return (version, run);
    }

    /// <summary>
    /// <c>mlflow-artifacts:/0/RUN/artifacts</c> (the tracking server's proxied store) becomes
    /// <c>api/2.0/mlflow-artifacts/artifacts/0/RUN/artifacts/PATH</c>; any other store is read through <c>get-artifact</c>.
    /// </summary>
    internal static string ArtifactAddress(MLflowRunInfo run, string path)
    {
        var root = run.ArtifactUri;
        if (root is not null && root.StartsWith("mlflow-artifacts:", StringComparison.Ordinal))
        {
            var rest = root["mlflow-artifacts:".Length..];
            if (rest.StartsWith("//", StringComparison.Ordinal))
            {
                // mlflow-artifacts://host:port/path: the authority names the server we already talk to.
                var slash = rest.IndexOf('/', 2);
                rest = slash < 0 ? "" : rest[slash..];
            }

            var relative = string.Join('/', rest.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries).Append(path).Select(Uri.EscapeDataString));
            return ArtifactProxy + relative;
        }

        return $"get-artifact?path={Uri.EscapeDataString(path)}&run_uuid={Uri.EscapeDataString(run.RunId)}";
    }

    private async Task<T> GetJsonAsync<T>(string address, string what, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, address), what, cancellationToken).ConfigureAwait(false);
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(cancellationToken).ConfigureAwait(false)
                ?? throw new MLflowException($"MLflow answered an empty body for {what}", response.StatusCode, null);
        }
        catch (JsonException ex)
        {
            throw new MLflowException($"MLflow's answer for {what} is not the documented JSON: {ex.Message}", response.StatusCode, null, ex);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            using (request)
            {
                response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (HttpRequestException ex)
        {
            throw new MLflowException($"MLflow at {_http.BaseAddress} is unreachable ({ex.Message})", null, null, ex);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string? code = null;
            string? message = null;
            try
            {
                var error = await response.Content.ReadFromJsonAsync<ErrorEnvelope>(cancellationToken).ConfigureAwait(false);
                code = error?.ErrorCode;
                message = error?.Message;
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
            {
                // Not MLflow's error JSON (a proxy's HTML page, say): the status code says enough.
            }

            throw new MLflowException(
                $"MLflow refused {what}: {(int)response.StatusCode} {code ?? response.ReasonPhrase}{(message is null ? "" : " - " + message)}",
                response.StatusCode,
                code);
        }
    }

    private static MLflowException Missing(string what) => new($"MLflow has no {what}", HttpStatusCode.NotFound, "RESOURCE_DOES_NOT_EXIST");

    private sealed record ModelVersionEnvelope([property: JsonPropertyName("model_version")] MLflowModelVersion? ModelVersion);

    private sealed record RunEnvelope([property: JsonPropertyName("run")] RunBody? Run);

    private sealed record RunBody([property: JsonPropertyName("info")] MLflowRunInfo? Info);

    private sealed record ArtifactListEnvelope(
        [property: JsonPropertyName("root_uri")] string? RootUri,
        [property: JsonPropertyName("files")] IReadOnlyList<MLflowFileInfo>? Files);

    private sealed record ErrorEnvelope(
        [property: JsonPropertyName("error_code")] string? ErrorCode,
        [property: JsonPropertyName("message")] string? Message);
}
