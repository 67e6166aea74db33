namespace ConfusionMatrix.Grains;

/// <summary>
/// When a segment matrix writes its state, chosen once per activation from <see cref="SegmentMatrixOptions"/>. The grain
/// reports each applied delivery through <see cref="ChangedAsync"/>; how it writes is the <see cref="GroupCommitWriter{TState}"/>'s.
/// </summary>
internal abstract class SegmentCheckpointing(GroupCommitWriter<SegmentMatrixState> writer)
{
    protected GroupCommitWriter<SegmentMatrixState> Writer => writer;

    public static SegmentCheckpointing Create(SegmentMatrixOptions options, GroupCommitWriter<SegmentMatrixState> writer) =>
        options.WriteBeforeAcknowledge ? new BeforeAcknowledge(writer) : new Periodic(writer, options.CheckpointInterval);

    /// <summary>Called on activation, after the state was restored.</summary>
    public abstract void Start(IGrainBase grain);

    /// <summary>Called after a delivery was applied to the live fields; the delivery is acknowledged when this completes.</summary>
    public abstract ValueTask ChangedAsync();

    /// <summary>Called on deactivation: writes what is not written yet.</summary>
    public Task FlushAsync() => writer.FlushAsync();

    /// <summary>
    /// Each delivery completes only after a write containing it succeeded: with durable storage, the basis of
    /// exactly-once counting (a delivery that was not stored fails, and its sender retries it).
    /// </summary>
    private sealed class BeforeAcknowledge(GroupCommitWriter<SegmentMatrixState> writer) : SegmentCheckpointing(writer)
    {
        public override void Start(IGrainBase grain)
        {
        }

        public override ValueTask ChangedAsync()
        {
            Writer.MarkChanged();
            return new ValueTask(Writer.CommitAsync());
        }
    }

    /// <summary>
    /// Deliveries are acknowledged once applied in memory and written every interval and on deactivation: for memory
    /// storage, which survives no crash anyway, so ingestion skips one write per segment per batch.
    /// </summary>
    private sealed class Periodic(GroupCommitWriter<SegmentMatrixState> writer, TimeSpan interval) : SegmentCheckpointing(writer)
    {
        public override void Start(IGrainBase grain) =>
            grain.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions(interval, interval) { KeepAlive = false });

        public override ValueTask ChangedAsync()
        {
            Writer.MarkChanged();
            return ValueTask.CompletedTask;
        }
    }
}
