namespace ConfusionMatrix.Client;

/// <summary>
/// Groups predictions by stream (<c>{model}/{version}</c>), cuts a stream's open batch when it is full or old enough,
/// and numbers each cut batch with the stream's next sequence. Owned by the logger's loop alone: not thread-safe.
/// Streams are never forgotten, because a stream's sequence must keep increasing for the life of the producer id.
/// </summary>
internal sealed class StreamBatcher(string producerId, int batchSize, TimeSpan batchInterval, TimeProvider time, Action<SinkBatch> cut)
{
    private readonly Dictionary<(string Model, string Version), OpenStream> _streams = [];
    private long _sequenceFloor;

    /// <summary>Adds a prediction logged at timestamp <paramref name="loggedAt"/>; cuts the batch when it reaches the batch size.</summary>
    public void Add(Prediction prediction, long loggedAt)
    {
        var key = (prediction.Model, prediction.Version);
        if (!_streams.TryGetValue(key, out var s))
        {
            s = new OpenStream(prediction.Model, prediction.Version) { LastSequence = _sequenceFloor };
            _streams.Add(key, s);
        }

        if (s.Open is null)
        {
            s.Open = new List<Prediction>(Math.Min(batchSize, 1024));
            s.OpenedAt = loggedAt;
        }

        s.Open.Add(prediction);
        if (s.Open.Count >= batchSize)
        {
            Cut(s);
        }
    }

    /// <summary>Cuts every batch open for at least the batch interval.</summary>
    public void CutExpired()
    {
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null && time.GetElapsedTime(s.OpenedAt) >= batchInterval)
            {
                Cut(s);
            }
        }
    }

    /// <summary>Cuts every open batch, however young or small.</summary>
    public void CutAll()
    {
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null)
            {
                Cut(s);
            }
        }
    }

    /// <summary>
    /// Cuts every open batch and numbers the next batch of every stream, also of streams not seen yet, at least
    /// <paramref name="nextSequence"/> (a numbered replay resuming where it left off).
    /// </summary>
    public void CutAllAndSkipTo(long nextSequence)
    {
        CutAll();
        _sequenceFloor = Math.Max(_sequenceFloor, nextSequence - 1);
        foreach (var s in _streams.Values)
        {
            s.LastSequence = Math.Max(s.LastSequence, _sequenceFloor);
        }
    }

    /// <summary>How long until the oldest open batch is due; null when no batch is open.</summary>
    public TimeSpan? TimeUntilNextCut()
    {
        TimeSpan? next = null;
        foreach (var s in _streams.Values)
        {
            if (s.Open is not null)
            {
                var left = batchInterval - time.GetElapsedTime(s.OpenedAt);
                if (left < TimeSpan.Zero)
                {
                    left = TimeSpan.Zero;
                }

                if (next is null || left < next)
                {
                    next = left;
                }
            }
        }

        return next;
    }

    /// <summary>Discards the open batches (shutdown gave up), adding their size per model to <paramref name="byModel"/>.</summary>
    public void DiscardOpen(Dictionary<string, long> byModel)
    {
        foreach (var s in _streams.Values)
        {
            if (s.Open is { Count: > 0 } open)
            {
                byModel[s.Model] = byModel.GetValueOrDefault(s.Model) + open.Count;
            }

            s.Open = null;
        }
    }

    private void Cut(OpenStream s)
    {
        // Numbered at the cut, in order; the sender hands a stream's batches to the sink in that same order.
        var batch = new SinkBatch(s.Model, s.Version, producerId, ++s.LastSequence, s.Open!);
        s.Open = null;
        cut(batch);
    }

    private sealed class OpenStream(string model, string version)
    {
        public string Model { get; } = model;

        public string Version { get; } = version;

        public List<Prediction>? Open { get; set; }

        public long OpenedAt { get; set; }

        public long LastSequence { get; set; }
    }
}
