using ConfusionMatrix.Api.Contracts;
using ConfusionMatrix.MLflow;
using ConfusionMatrix.Silo.Configuration;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// Resolves <c>PUT …/baseline</c> bodies of the form <c>{"mlflow":{"model","alias"|"version"}}</c> against the
/// configured MLflow server: alias or version → run → <c>confusion_matrix.json</c>, in the model's class order.
/// </summary>
public sealed class MLflowBaselines(IOptions<ConfusionMatrixOptions> options, ILogger<MLflowBaselines> logger)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // One handler for the life of the silo; MLflow calls are rare (an operator setting a baseline).
    private readonly HttpMessageHandler _handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };

    /// <summary>The rows in the model's class order, or a problem result (400/404 for the caller's mistakes, 502 when MLflow fails).</summary>
    public async Task<(List<List<long>>? Rows, IResult? Problem)> ResolveAsync(MLflowBaselineRequest request, bool countsAlsoGiven, IReadOnlyList<string> classes, CancellationToken cancellationToken)
    {
        var settings = options.Value.MLflow;
        if (countsAlsoGiven)
        {
            return Refuse(400, "Invalid baseline", "Give either 'counts' or 'mlflow', not both.");
        }

        if (string.IsNullOrWhiteSpace(settings.TrackingUri))
        {
            return Refuse(400, "MLflow not configured", $"This silo has no {ConfusionMatrixOptions.SectionName}:MLflow:TrackingUri, so it cannot resolve MLflow baselines; send 'counts' instead.");
        }

        var reference = new MLflowModelReference(request.Model ?? "", NullIfBlank(request.Alias), NullIfBlank(request.Version));
        if (reference.Validate() is { } invalid)
        {
            return Refuse(400, "Invalid baseline", $"'mlflow' needs 'model' and exactly one of 'alias' and 'version': {invalid}.");
        }

        using var http = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout };
        var client = new MLflowClient(http, new MLflowOptions { TrackingUri = new Uri(settings.TrackingUri), Token = settings.Token });
        MLflowBaseline baseline;
        try
        {
            baseline = await client.GetBaselineAsync(reference, cancellationToken);
        }
        catch (MLflowException ex) when (ex.IsNotFound)
        {
            return Refuse(404, "MLflow baseline not found", ex.Message);
        }
        catch (MLflowException ex) when (ex.IsClientError)
        {
            return Refuse(400, "MLflow baseline refused", ex.Message);
        }
        catch (Exception ex) when (ex is MLflowException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Log.RequestRefused(logger, 502, ex.Message);
            return (null, ApiEndpoints.Problem(502, "MLflow unavailable", $"{reference}: {ex.Message}"));
        }

        var artifact = baseline.Matrix;
        if (artifact.Classes.Count != classes.Count || classes.Except(artifact.Classes, StringComparer.Ordinal).Any())
        {
            return Refuse(400, "Invalid baseline", $"{reference} (run {baseline.Run.RunId}) has classes [{string.Join(", ", artifact.Classes)}]; the model has [{string.Join(", ", classes)}].");
        }

        // Rows and columns in the model's class order, whatever order the training job logged.
        var index = classes.Select(c => artifact.Classes.ToList().IndexOf(c)).ToArray();
        var rows = index.Select(a => index.Select(p => artifact.Counts[a][p]).ToList()).ToList();
        return (rows, null);
    }

    private (List<List<long>>?, IResult?) Refuse(int status, string title, string detail)
    {
        Log.RequestRefused(logger, status, detail);
        return (null, ApiEndpoints.Problem(status, title, detail));
    }

    private static string? NullIfBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
}
