using System.Net;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>What a Grafana board or an alert rule reads: per-class quality and drift of each judged segment on /metrics.</summary>
[Collection(SiloCollection.Name)]
public sealed class ModelQualityMetricsHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task JudgedSegments_ExportRecallPrecisionAndKl()
    {
        const string model = "quality-metrics";
        await _api.RegisterModelAsync(model, ["legit", "fraud"], "fraud", ["region"]);

        // 300 predictions: 60 fraud of which 45 caught (recall 0.75), 15 legit flagged (precision 45/60 = 0.75).
        var predictions = new List<Prediction>();
        for (var i = 0; i < 300; i++)
        {
            var fraud = i < 60;
            var flagged = fraud ? i < 45 : i < 75;
            predictions.Add(new Prediction($"q-{i}", model, "v1", flagged ? "fraud" : "legit", fraud ? "fraud" : "legit",
                Segments: new Dictionary<string, string> { ["region"] = i % 2 == 0 ? "EU" : "US" }));
        }

        var posted = await _api.PostPredictionsAsync(predictions);
        Expect.Status(HttpStatusCode.Accepted, posted);
        await _api.WaitForTotalAsync(model, "v1", "all", 300);

        var evaluated = await _api.PostJsonAsync($"api/v1/models/{model}/drift/evaluate", new { });
        Expect.Status(HttpStatusCode.OK, evaluated);

        var text = await Eventually.MatchesAsync(
            async () => (await _api.GetAsync("metrics")).Body,
            t => Prometheus.Value(t, "confusionmatrix_model_class_quality", ("model", model), ("segment", "all"), ("class", "fraud"), ("metric", "recall")) is not null,
            "class quality gauges on /metrics");
        Expect.Close(0.75, Prometheus.Value(text, "confusionmatrix_model_class_quality", ("model", model), ("version", "v1"), ("segment", "all"), ("class", "fraud"), ("metric", "recall"))!.Value, "recall of fraud");
        Expect.Close(0.75, Prometheus.Value(text, "confusionmatrix_model_class_quality", ("model", model), ("version", "v1"), ("segment", "all"), ("class", "fraud"), ("metric", "precision"))!.Value, "precision of fraud");
        Assert.Equal(300, Prometheus.Value(text, "confusionmatrix_model_segment_drift", ("model", model), ("segment", "all"), ("metric", "live_total")));
        Assert.NotNull(Prometheus.Value(text, "confusionmatrix_model_class_quality", ("model", model), ("segment", "region=EU"), ("class", "legit"), ("metric", "recall")));
    }
}
