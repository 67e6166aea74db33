using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>
/// Predictions logged without their label and labelled later, over the real HTTP API: every label counts once, in
/// its prediction's version, segments and event-time window, whatever order, duplication or correction it comes in.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class LateLabelHttpTests(SiloProcessFixture fixture)
{
    private static readonly string[] Classes = ["legit", "fraud"];
    private static readonly string[] Regions = ["EU", "US", "APAC"];
    private static readonly string[] Channels = ["web", "app"];
    private static readonly string[] Windows = ["all", "30m", "60m", "6h", "24h", "7d", "30d"];

    private readonly SiloApi _api = fixture.Api;

    [Fact]
    public async Task PredictionsPostedWithoutActualAndLabelledLater_GiveTheSameMatricesAsWithActual()
    {
        const string model = "late-equal";
        await RegisterAsync(model, labelTtl: null, grace: null);
        var now = DateTimeOffset.UtcNow;
        var random = new Random(81);
        var records = Enumerable.Range(0, 4000).Select(i => Generate(random, i, now, TimeSpan.FromDays(20))).ToList();

        Accepted(await _api.PostPredictionsAsync(records.Select(r => r.ToPrediction(model, "with-actual", withActual: true))), records.Count);
        Accepted(await _api.PostPredictionsAsync(records.Select(r => r.ToPrediction(model, "labelled-later", withActual: false))), records.Count);
        await WaitForStatsAsync(model, s => s.GetProperty("pending").GetInt64() == records.Count, "all predictions waiting for labels");

        var labels = await PostLabelsAsync(records.Select(r => new LabelJson(model, r.Id, r.Actual, Ts(r.EventTime.AddMinutes(30)), "review")));
        Assert.Equal(records.Count, labels.GetProperty("accepted").GetInt32());
        Assert.Equal(records.Count, labels.GetProperty("outcomes").GetProperty("applied").GetInt32());
        await _api.WaitForTotalAsync(model, "labelled-later", "all", records.Count);
        await _api.WaitForTotalAsync(model, "with-actual", "all", records.Count);

        foreach (var segment in new[] { "all", "region=EU", "region=APAC", "channel=app" })
        {
            foreach (var window in Windows)
            {
                await EventuallySameAsync(
                    async () =>
                    {
                        var with = await _api.GetMatrixAsync(model, "with-actual", segment, window);
                        var later = await _api.GetMatrixAsync(model, "labelled-later", segment, window);
                        return (Expect.Show(Expect.Counts(with)), Expect.Show(Expect.Counts(later)));
                    },
                    $"{segment} window {window}");
            }
        }

        var laterAll = await _api.GetMatrixAsync(model, "labelled-later", "all");
        Assert.Equal(1.0, laterAll.GetProperty("labels").GetProperty("coverage").GetDouble());
        Assert.Equal(0, laterAll.GetProperty("labels").GetProperty("pending").GetInt64());
    }

    [Fact]
    public async Task ThirtyDaysOfOutOfOrderDuplicatedAndCorrectedLabels_MatchABatchJoin()
    {
        const string model = "late-30d";
        var ttl = TimeSpan.FromDays(25);
        // Long enough that an early label still waits when its prediction, posted right after it, reaches the join on a
        // loaded machine; short enough that the never-predicted ones are orphaned within the test.
        var grace = TimeSpan.FromSeconds(30);
        await RegisterAsync(model, ttl, grace);
        var now = DateTimeOffset.UtcNow;
        var random = new Random(30);
        var records = new List<Rec>(100_000);
        while (records.Count < 100_000)
        {
            var r = Generate(random, records.Count, now, TimeSpan.FromDays(30));
            var age = now - r.EventTime;
            if (age > ttl - TimeSpan.FromDays(1) && age < ttl + TimeSpan.FromDays(1))
            {
                continue; // nothing crosses its time to live while the test runs
            }

            records.Add(r);
        }

        // The plan of each prediction's labels, seeded.
        var early = new List<LabelJson>();
        var later = new List<(LabelJson Label, int Record)>();
        var plan = new Plan[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            var roll = random.NextDouble();
            var first = LabelTime(random, r.EventTime, now);
            plan[i] = roll switch
            {
                < 0.10 => Plan.Never,
                < 0.18 => Plan.Early,
                < 0.23 => Plan.Corrected,
                < 0.28 => Plan.Duplicated,
                _ => Plan.Once,
            };
            var label = new LabelJson(model, r.Id, r.Actual, Ts(first), "chargebacks");
            switch (plan[i])
            {
                case Plan.Early:
                    early.Add(label);
                    break;
                case Plan.Corrected:
                    var wrong = label with { Actual = r.Actual == "fraud" ? "legit" : "fraud", LabelTime = Ts(first) };
                    var right = label with { LabelTime = Ts(first + TimeSpan.FromMilliseconds(1 + random.NextDouble() * Math.Max(1, (now - first).TotalMilliseconds - 1000))) };
                    later.Add((wrong, i));
                    later.Add((right, i));
                    break;
                case Plan.Duplicated:
                    later.Add((label, i));
                    later.Add((label, i));
                    break;
                case Plan.Once:
                    later.Add((label, i));
                    break;
            }
        }

        var orphanIds = Enumerable.Range(0, 300).Select(i => $"never-predicted-{i}").ToList();
        early.AddRange(orphanIds.Select(id => new LabelJson(model, id, "fraud", Ts(now.AddMinutes(-1)), null)));

        // Labels that come just before their predictions, then the predictions (no actual), then the rest shuffled.
        await PostLabelsAsync(early.Where(l => l.PredictionId.StartsWith("never-", StringComparison.Ordinal)));
        var earlyByRecord = early.Where(l => l.PredictionId.StartsWith("p-", StringComparison.Ordinal)).ToDictionary(l => l.PredictionId);
        foreach (var chunk in records.Chunk(5000))
        {
            await PostLabelsAsync(chunk.Where(r => earlyByRecord.ContainsKey(r.Id)).Select(r => earlyByRecord[r.Id]));
            Accepted(await _api.PostPredictionsAsync(chunk.Select(r => r.ToPrediction(model, "v1", withActual: false))), chunk.Length);
        }

        var expired = records.Where(r => now - r.EventTime > ttl).ToHashSet();
        var live = records.Count - expired.Count;
        await WaitForStatsAsync(
            model,
            s => s.GetProperty("pending").GetInt64() + s.GetProperty("labelledCorrectable").GetInt64() == live && s.GetProperty("expired").GetInt64() == expired.Count,
            "every prediction joined or expired");

        Shuffle(random, later);
        foreach (var chunk in later.Chunk(5000))
        {
            await PostLabelsAsync(chunk.Select(c => c.Label));
        }

        // The batch join: per prediction the label with the latest label time, and the latency of the label applied first.
        var final = new string?[records.Count];
        var firstLatency = new TimeSpan?[records.Count];
        var earlyById = early.ToDictionary(l => l.PredictionId);
        for (var i = 0; i < records.Count; i++)
        {
            if (plan[i] == Plan.Early && !expired.Contains(records[i]))
            {
                final[i] = earlyById[records[i].Id].Actual;
                firstLatency[i] = DateTimeOffset.Parse(earlyById[records[i].Id].LabelTime!, CultureInfo.InvariantCulture) - records[i].EventTime;
            }
        }

        var latestTime = new DateTimeOffset?[records.Count];
        var expectedCorrections = 0;
        foreach (var (label, i) in later)
        {
            if (expired.Contains(records[i]))
            {
                continue;
            }

            var time = DateTimeOffset.Parse(label.LabelTime!, CultureInfo.InvariantCulture);
            if (latestTime[i] is null)
            {
                firstLatency[i] = time - records[i].EventTime;
            }
            else if (time > latestTime[i] && label.Actual != final[i])
            {
                expectedCorrections++;
            }

            if (latestTime[i] is null || time > latestTime[i])
            {
                latestTime[i] = time;
                final[i] = label.Actual;
            }
        }

        var expectedOrphans = orphanIds.Count + records.Where((r, i) => expired.Contains(r) && plan[i] is not Plan.Never).Count();
        var stats = await WaitForStatsAsync(
            model,
            s => s.GetProperty("orphaned").GetInt64() == expectedOrphans && s.GetProperty("bufferedLabels").GetInt64() == 0,
            $"{expectedOrphans} orphaned labels after the grace period",
            TimeSpan.FromSeconds(90));
        Assert.Equal(expectedCorrections, stats.GetProperty("corrections").GetInt64());
        Assert.Equal(records.Count(r => !expired.Contains(r)) - final.Count(f => f is not null), stats.GetProperty("pending").GetInt64());
        Assert.Equal(0, stats.GetProperty("deliveriesOutstanding").GetInt64());

        foreach (var segment in new[] { "all", "region=EU", "channel=web" })
        {
            foreach (var window in Windows)
            {
                await EventuallySameAsync(
                    async () =>
                    {
                        var matrix = await _api.GetMatrixAsync(model, "v1", segment, window);
                        var asOf = matrix.GetProperty("asOf").GetDateTimeOffset();
                        var expected = BatchJoin(records, final, firstLatency, expired, segment, window, asOf);
                        return (expected, Observed(matrix));
                    },
                    $"{segment} window {window}");
            }
        }
    }

    [Fact]
    public async Task BadLabels_AreRefusedOneByOneWithReasons_NeverWithAServerError()
    {
        const string model = "late-bad";
        await RegisterAsync(model, null, null);
        var lines = new[]
        {
            """{"model":"late-bad","predictionId":"ok-1","actual":"fraud"}""",
            """{"model":"late-bad","predictionId":"x","actual":"cat"}""",
            """{"model":"nobody","predictionId":"x","actual":"fraud"}""",
            """{"model":"late-bad","actual":"fraud"}""",
            """{"model":"late-bad","predictionId":"x","actual":"fraud","labelTime":"yesterday"}""",
            """{"model":"late-bad","predictionId":"x","actual":"fraud","labelTime":"2999-01-01T00:00:00Z"}""",
            """{"model":"late-bad","predictionId":"x\ud800","actual":{"nested":true}}""",
            """not json""",
            """[1,2]""",
            """{"model":"late-bad","predictionId":"ok-2","actual":"legit","source":"reviewer"}""",
        };
        var response = await _api.SendBytesAsync(Encoding.UTF8.GetBytes(string.Join('\n', lines)), SiloApi.NdjsonContentType, "api/v1/labels");
        Assert.Equal(HttpStatusCode.Accepted, response.Status);
        var json = response.Json;
        Assert.Equal(2, json.GetProperty("accepted").GetInt32());
        Assert.Equal(8, json.GetProperty("rejectedCount").GetInt32());
        var reasons = json.GetProperty("rejected").EnumerateArray().ToDictionary(r => r.GetProperty("index").GetInt32(), r => r.GetProperty("reason").GetString());
        Assert.Equal("unknown_class", reasons[1]);
        Assert.Equal("unknown_model", reasons[2]);
        Assert.Equal("missing_field", reasons[3]);
        Assert.Equal("bad_timestamp", reasons[4]);
        Assert.Equal("bad_timestamp", reasons[5]);
        Assert.Equal("malformed", reasons[7]);
        Assert.Equal("malformed", reasons[8]);
        Assert.Equal(2, json.GetProperty("outcomes").GetProperty("buffered").GetInt32());

        Expect.Problem(await _api.SendBytesAsync(Encoding.UTF8.GetBytes("{\"not\":\"an array\"}"), "application/json", "api/v1/labels"), HttpStatusCode.BadRequest, "JSON array of labels");
        // The exporter caches a scrape briefly, so the new series may show on the next one.
        await Eventually.MatchesAsync(
            () => _api.GetAsync("metrics"),
            m => m.Body.Contains("kind=\"labels\"", StringComparison.Ordinal),
            "the label rejections on /metrics",
            describe: m => m.Body.Length > 2000 ? m.Body[..2000] : m.Body);
    }

    private enum Plan
    {
        Never,
        Early,
        Corrected,
        Duplicated,
        Once,
    }

    private sealed record Rec(string Id, string Actual, string Predicted, DateTimeOffset EventTime, string Region, string Channel, double Score)
    {
        public Prediction ToPrediction(string model, string version, bool withActual) =>
            new(Id, model, version, Predicted, withActual ? Actual : null, Score, Ts(EventTime), new Dictionary<string, string> { ["region"] = Region, ["channel"] = Channel });
    }

    private sealed record LabelJson(string Model, string PredictionId, string Actual, string? LabelTime, string? Source);

    private static Rec Generate(Random random, int i, DateTimeOffset now, TimeSpan span)
    {
        var fraud = random.NextDouble() < 0.2;
        var predictedFraud = fraud ? random.NextDouble() < 0.8 : random.NextDouble() < 0.05;
        var age = TimeSpan.FromSeconds(90 + (random.NextDouble() * (span.TotalSeconds - 90)));
        return new Rec(
            $"p-{i}",
            fraud ? "fraud" : "legit",
            predictedFraud ? "fraud" : "legit",
            now - age,
            Regions[random.Next(Regions.Length)],
            Channels[random.Next(Channels.Length)],
            predictedFraud ? 0.5 + (random.NextDouble() / 2) : random.NextDouble() / 2);
    }

    /// <summary>Confirmed fraud within hours, missed fraud and the rest within days; never in the future.</summary>
    private static DateTimeOffset LabelTime(Random random, DateTimeOffset eventTime, DateTimeOffset now)
    {
        var latency = random.NextDouble() < 0.6 ? TimeSpan.FromHours(2 * random.NextDouble()) : TimeSpan.FromDays(1 + (9 * random.NextDouble()));
        var time = eventTime + latency;
        return time < now.AddMinutes(-1) ? time : now.AddMinutes(-1) - TimeSpan.FromSeconds(random.NextDouble() * 30);
    }

    private static string Ts(DateTimeOffset t) => t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static void Shuffle<T>(Random random, List<T> list)
    {
        for (var i = list.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <summary>Whether an event falls in a window as the bucket rings answer it: the current bucket and the ones before it.</summary>
    private static bool InWindow(DateTimeOffset eventTime, string window, DateTimeOffset now)
    {
        if (window == "all")
        {
            return true;
        }

        var amount = int.Parse(window[..^1], CultureInfo.InvariantCulture);
        var width = window[^1] switch
        {
            'm' => TimeSpan.TicksPerMinute,
            'h' => TimeSpan.TicksPerHour,
            _ => TimeSpan.TicksPerDay,
        };
        return eventTime.UtcTicks / width >= (now.UtcTicks / width) - amount + 1;
    }

    private static string BatchJoin(List<Rec> records, string?[] final, TimeSpan?[] latency, HashSet<Rec> expired, string segment, string window, DateTimeOffset now)
    {
        var counts = new long[2, 2];
        long pending = 0, expiredCount = 0;
        var histogram = new long[LatencyBounds.Length + 1];
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i];
            if ((segment != "all" && segment != $"region={r.Region}" && segment != $"channel={r.Channel}") || !InWindow(r.EventTime, window, now))
            {
                continue;
            }

            if (expired.Contains(r))
            {
                expiredCount++;
            }
            else if (final[i] is { } actual)
            {
                counts[Array.IndexOf(Classes, actual), Array.IndexOf(Classes, r.Predicted)]++;
                histogram[LatencyBucket(latency[i]!.Value)]++;
            }
            else
            {
                pending++;
            }
        }

        return Describe([[counts[0, 0], counts[0, 1]], [counts[1, 0], counts[1, 1]]], pending, expiredCount, histogram);
    }

    private static readonly TimeSpan[] LatencyBounds =
    [
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(1), TimeSpan.FromHours(2), TimeSpan.FromHours(6), TimeSpan.FromHours(12),
        TimeSpan.FromDays(1), TimeSpan.FromDays(3), TimeSpan.FromDays(7), TimeSpan.FromDays(14),
        TimeSpan.FromDays(30), TimeSpan.FromDays(90),
    ];

    private static int LatencyBucket(TimeSpan latency)
    {
        for (var b = 0; b < LatencyBounds.Length; b++)
        {
            if (latency <= LatencyBounds[b])
            {
                return b;
            }
        }

        return LatencyBounds.Length;
    }

    private static string Observed(JsonElement matrix)
    {
        var labels = matrix.GetProperty("labels");
        Assert.Equal(matrix.GetProperty("total").GetInt64(), labels.GetProperty("labelled").GetInt64());
        var histogram = labels.GetProperty("latency").GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()).ToArray();
        return Describe(Expect.Counts(matrix), labels.GetProperty("pending").GetInt64(), labels.GetProperty("expired").GetInt64(), histogram);
    }

    private static string Describe(long[][] counts, long pending, long expired, long[] latency) =>
        $"counts {Expect.Show(counts)} pending {pending} expired {expired} latency [{string.Join(",", latency)}]";

    /// <summary>Windows end "now", so a bucket can rotate between two reads: compare again a few times before failing.</summary>
    private static async Task EventuallySameAsync(Func<Task<(string Expected, string Actual)>> read, string what)
    {
        (string Expected, string Actual) last = default;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            last = await read();
            if (last.Expected == last.Actual)
            {
                return;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{what}: expected {last.Expected}, got {last.Actual}");
    }

    private async Task RegisterAsync(string model, TimeSpan? labelTtl, TimeSpan? grace)
    {
        var response = await _api.PostJsonAsync("api/v1/models", new
        {
            model,
            classes = Classes,
            positiveClass = "fraud",
            segmentDimensions = new[] { "region", "channel" },
            labelTtl = labelTtl?.ToString("c", CultureInfo.InvariantCulture),
            labelGracePeriod = grace?.ToString("c", CultureInfo.InvariantCulture),
        });
        Expect.Status(HttpStatusCode.OK, response);
    }

    private static void Accepted(ApiResponse response, int count)
    {
        Expect.Status(HttpStatusCode.Accepted, response);
        Expect.Equal(count, response.Json.GetProperty("accepted").GetInt32(), response.ToString());
    }

    private async Task<JsonElement> PostLabelsAsync(IEnumerable<LabelJson> labels)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(labels, JsonSerializerOptions.Web);
        var response = await _api.SendBytesAsync(body, "application/json", "api/v1/labels");
        Expect.Status(HttpStatusCode.Accepted, response);
        Expect.Equal(0, response.Json.GetProperty("rejectedCount").GetInt32(), response.ToString());
        return response.Json;
    }

    private Task<JsonElement> WaitForStatsAsync(string model, Func<JsonElement, bool> condition, string what, TimeSpan? deadline = null) =>
        Eventually.MatchesAsync(
            async () => (await _api.GetAsync($"api/v1/models/{model}/labels")).Json,
            condition,
            what,
            deadline ?? TimeSpan.FromSeconds(60),

            // Each read fans out to every label-join shard: polling faster loads the silo that is joining the labels.
            TimeSpan.FromMilliseconds(200));
}
