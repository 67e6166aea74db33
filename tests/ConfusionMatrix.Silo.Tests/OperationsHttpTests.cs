using System.Net;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>What operators look at: health, the dashboard and Prometheus metrics.</summary>
[Collection(SiloCollection.Name)]
public sealed class OperationsHttpTests(SiloProcessFixture fixture)
{
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task Health_Is200()
    {
        var response = await _api.GetAsync("health");
        Expect.Status(HttpStatusCode.OK, response);
        Assert.Equal("Healthy", response.Body);
    }

    [Theory]
    [InlineData("health/live")]
    [InlineData("health/ready")]
    public async Task LivenessAndReadiness_Are200(string path)
    {
        var response = await _api.GetAsync(path);
        Expect.Status(HttpStatusCode.OK, response);
        Assert.Equal("Healthy", response.Body);
    }

    [Fact]
    public async Task Dashboard_ServesHtml()
    {
        var response = await _api.GetAsync("dashboard/");
        Expect.Status(HttpStatusCode.OK, response);
        Assert.Equal("text/html", response.ContentType);
        Assert.Contains("<html", response.Body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Metrics_ExposeOrleansSeriesAndAcceptedPredictions()
    {
        const string model = "ops-metrics";
        await _api.RegisterModelAsync(model, ["a", "b"], null, []);
        var response = await _api.PostPredictionsAsync([new Prediction("m1", model, "v1", "a", "a"), new Prediction("m2", model, "v1", "b", "a")]);
        Expect.Status(HttpStatusCode.Accepted, response);
        await _api.WaitForTotalAsync(model, "v1", "all", 2);

        var text = await Eventually.MatchesAsync(
            async () => (await _api.GetAsync("metrics")).Body,
            t => Prometheus.Value(t, "confusionmatrix_predictions_accepted_total", ("model", model)) == 2,
            "confusionmatrix_predictions_accepted_total for the posted predictions");
        Assert.Contains("\norleans_", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE confusionmatrix_predictions_accepted_total counter", text, StringComparison.Ordinal);
    }
}
