using System.Net;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Every input of the malformed corpus over HTTP on a silo process: never a server error; in a mixed request every
/// good record is accepted and every bad one refused with its index and a reason; a body that is not JSON is refused
/// whole; and in the end the matrix holds exactly the good records, each once.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class MalformedCorpusHttpTests(SiloProcessFixture fixture, Xunit.Abstractions.ITestOutputHelper log)
{
    private const string Model = "corpus";
    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task MalformedInput_NeverGetsAServerError_AndEveryGoodRecordOfItCountsOnce()
    {
        await _api.RegisterModelAsync(Model, ["legit", "fraud"], "fraud", ["region"]);
        var corpus = MalformedCorpus.Build(Model, "v1", DateTimeOffset.UtcNow);
        var refusalsBefore = await RejectedTotalAsync();
        Assert.True(corpus.Count >= 200, $"the corpus has {corpus.Count} inputs");

        long good = 0, refusedWhole = 0, badRecords = 0;
        foreach (var c in corpus)
        {
            var response = await _api.SendBytesAsync(c.Body, c.ContentType);
            Assert.True((int)response.Status < 500, $"{c}: {response}");
            if (c.WholeBodyInvalid)
            {
                Expect.Status(HttpStatusCode.BadRequest, response);
                Expect.Problem(response, HttpStatusCode.BadRequest);
                refusedWhole++;
                continue;
            }

            Expect.Status(HttpStatusCode.Accepted, response);
            var json = response.Json;
            Expect.Equal(c.Good, json.GetProperty("accepted").GetInt32(), $"{c}: {response}");
            Expect.Equal(c.BadIndexes.Length, json.GetProperty("rejectedCount").GetInt32(), $"{c}: {response}");
            var rejected = json.GetProperty("rejected").EnumerateArray().ToList();
            Assert.Equal(c.BadIndexes, rejected.Select(r => r.GetProperty("index").GetInt32()));
            Assert.All(rejected, r => Assert.False(string.IsNullOrEmpty(r.GetProperty("reason").GetString()), $"{c}: {r}"));
            good += c.Good;
            badRecords += c.BadIndexes.Length;
        }

        log.WriteLine($"{corpus.Count} inputs: {refusedWhole} refused whole, {badRecords} bad records refused, {good} good records accepted");
        await _api.WaitForTotalAsync(Model, "v1", "all", good, deadline: TimeSpan.FromSeconds(60));
        await _api.HoldTotalAsync(Model, "v1", "all", good, TimeSpan.FromSeconds(1));

        // Each refused record is counted once on /metrics (by reason).
        Assert.Equal(badRecords, await RejectedTotalAsync() - refusalsBefore);
    }

    private async Task<double> RejectedTotalAsync()
    {
        var metrics = (await _api.GetAsync("metrics")).Body;
        return Prometheus.Lines(metrics, "confusionmatrix_predictions_rejected_total")
            .Sum(l => double.Parse(l[(l.LastIndexOf('}') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture));
    }
}
