using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Durability.Tests;

/// <summary>
/// A producer that behaves as the contract asks: one batch in flight per stream, numbered in send order, and a failed
/// send retried with the same number until the stream acknowledges it. It keeps the exact counts it was acknowledged
/// for, per segment, which is what the system must end up holding.
/// </summary>
internal sealed class Producer(IClusterClient client, string model, string version, string producerId)
{
    public static readonly string[] Classes = ["cat", "dog", "bird"];
    private static readonly string[] Regions = ["EU", "US", "APAC", "LATAM"];
    private static readonly string[] Channels = ["web", "app", "partner"];

    private long _sequence;

    public Dictionary<string, long[,]> Acknowledged { get; } = new(StringComparer.Ordinal);

    public long AcknowledgedTotal { get; private set; }

    public static Task RegisterAsync(IClusterClient client, string model) =>
        client.GetGrain<IModelRegistryGrain>(model).RegisterAsync(new ModelDefinition(model, [.. Classes], "cat", ["region", "channel"], DateTimeOffset.UtcNow));

    /// <summary>A seeded batch of <paramref name="size"/> predictions over 4 regions x 3 channels.</summary>
    public PredictionBatch Next(int size, int seed)
    {
        var random = new Random(seed);
        var builder = new PredictionBatchBuilder(model, version);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < size; i++)
        {
            var actual = Classes[random.Next(3)];
            var predicted = random.NextDouble() < 0.8 ? actual : Classes[random.Next(3)];
            builder.Add(actual, predicted, now, [new("region", Regions[random.Next(Regions.Length)]), new("channel", Channels[random.Next(Channels.Length)])]);
        }

        return builder.Build(producerId, ++_sequence);
    }

    public async Task SendAsync(PredictionBatch batch, TimeSpan deadline)
    {
        var stream = client.GetStreamProvider(PredictionLog.StreamProvider)
            .GetStream<PredictionBatch>(StreamId.Create(PredictionLog.StreamNamespace, PredictionLog.VersionKey(model, version)));
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            try
            {
                await stream.OnNextAsync(batch);
                break;
            }
            catch (Exception) when (DateTime.UtcNow < until)
            {
                // Same batch, same sequence number: if the failed send did land, the segments skip the second copy.
                await Task.Delay(250);
            }
        }

        Record(batch);
    }

    private void Record(PredictionBatch batch)
    {
        lock (Acknowledged)
        {
            AddTo(Acknowledged, batch);
            AcknowledgedTotal += batch.Count;
        }
    }

    /// <summary>Adds a batch's predictions to expected per-segment counts: <c>all</c> and one segment per dimension value.</summary>
    public static void AddTo(Dictionary<string, long[,]> expected, PredictionBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var actual = Array.IndexOf(Classes, batch.Labels[batch.Actual[i]]);
            var predicted = Array.IndexOf(Classes, batch.Labels[batch.Predicted[i]]);
            Bump(expected, Segments.All, actual, predicted);
            for (var d = 0; d < batch.Dimensions.Length; d++)
            {
                var v = batch.SegmentValueIndex[(i * batch.Dimensions.Length) + d];
                Bump(expected, Segments.For(batch.Dimensions[d], batch.SegmentValues[v]), actual, predicted);
            }
        }
    }

    private static void Bump(Dictionary<string, long[,]> expected, string segment, int actual, int predicted)
    {
        if (!expected.TryGetValue(segment, out var counts))
        {
            counts = new long[Classes.Length, Classes.Length];
            expected[segment] = counts;
        }

        counts[actual, predicted]++;
    }
}

internal static class Verify
{
    /// <summary>
    /// Waits until every segment holds exactly what was acknowledged, then keeps checking for a while so that a late
    /// redelivery that was counted twice would still be caught.
    /// </summary>
    public static async Task ExactlyOnceAsync(IGrainFactory grains, string model, string version, Dictionary<string, long[,]> expected, TimeSpan deadline, TimeSpan hold)
    {
        var until = DateTime.UtcNow + deadline;
        while (!await AllEqualAsync(grains, model, version, expected, failHard: false))
        {
            if (DateTime.UtcNow > until)
            {
                await AllEqualAsync(grains, model, version, expected, failHard: true);
            }

            await Task.Delay(200);
        }

        var holdUntil = DateTime.UtcNow + hold;
        while (DateTime.UtcNow < holdUntil)
        {
            await AllEqualAsync(grains, model, version, expected, failHard: true);
            await Task.Delay(500);
        }
    }

    private static async Task<bool> AllEqualAsync(IGrainFactory grains, string model, string version, Dictionary<string, long[,]> expected, bool failHard)
    {
        foreach (var (segment, counts) in expected)
        {
            var view = await grains.GetGrain<ISegmentMatrixGrain>(Segments.MatrixKey(model, version, segment)).GetMatrixAsync(null);
            var k = counts.GetLength(0);
            var actual = view.Matrix.ClassCount == 0 ? new long[k][].Select(_ => new long[k]).ToArray() : view.Matrix.ToRows();
            for (var i = 0; i < k; i++)
            {
                for (var j = 0; j < k; j++)
                {
                    if (actual[i][j] != counts[i, j])
                    {
                        Assert.False(failHard, $"{segment}[{i},{j}]: acknowledged {counts[i, j]}, counted {actual[i][j]} (total {view.Matrix.Total})");
                        return false;
                    }
                }
            }
        }

        return true;
    }
}
