using System.Collections.Immutable;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ConfusionMatrix.Grains;

/// <summary>How much of the audit trail is kept.</summary>
public sealed class AuditTrailOptions
{
    /// <summary>Records kept per model; the oldest go first.</summary>
    public int MaxRecords { get; set; } = AuditTrailGrain.DefaultMaxRecords;
}

[GenerateSerializer, Alias("cm.AuditTrailState")]
public sealed class AuditTrailState
{
    [Id(0)]
    public List<AuditRecord> Records { get; set; } = [];

    [Id(1)]
    public long NextSequence { get; set; } = 1;

    /// <summary>Records dropped by the bounds, ever.</summary>
    [Id(2)]
    public long Dropped { get; set; }
}

/// <summary>
/// Append-only audit trail of one model in the control storage. Bounded twice: by record count and by size, so the
/// state stays storable as one Azure Table entity (1 MiB); before/after snapshots are cut at <see cref="MaxSnapshotChars"/>.
/// </summary>
public sealed class AuditTrailGrain(
    [PersistentState("audit", StorageNames.Control)] IPersistentState<AuditTrailState> state,
    IOptions<AuditTrailOptions> options,
    ILogger<AuditTrailGrain> logger) : Grain, IAuditTrailGrain
{
    public const int DefaultMaxRecords = 1000;

    public const int MaxMaxRecords = 10_000;

    public const int MaxSnapshotChars = 4096;

    /// <summary>Characters of all records together; a UTF-16 estimate well under the 1 MiB of an Azure Table entity.</summary>
    public const int MaxTotalChars = 320 * 1024;

    public const int MaxPageSize = 1000;

    public async Task<long> AppendAsync(AuditRecord record)
    {
        var s = state.State;
        var stored = record with
        {
            Sequence = s.NextSequence,
            Before = Cut(record.Before),
            After = Cut(record.After),
            Note = record.Note is { Length: > 1024 } note ? note[..1024] + "…" : record.Note,
        };
        s.NextSequence++;
        s.Records.Add(stored);
        var max = Math.Clamp(options.Value.MaxRecords, 10, MaxMaxRecords);
        var drop = Math.Max(0, s.Records.Count - max);
        var total = s.Records.Sum(Size);
        while (total > MaxTotalChars && drop < s.Records.Count - 1)
        {
            total -= Size(s.Records[drop]);
            drop++;
        }

        if (drop > 0)
        {
            s.Records.RemoveRange(0, drop);
            s.Dropped += drop;
        }

        await state.WriteStateAsync();
        Log.Audited(logger, this.GetPrimaryKeyString(), stored.Sequence, stored.Principal, stored.Action, stored.Target, stored.Status ?? 0);
        return stored.Sequence;
    }

    public ValueTask<AuditPage> ReadAsync(DateTimeOffset? since, long? after, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxPageSize);
        var matching = state.State.Records.Where(r => (after is null || r.Sequence > after) && (since is null || r.At >= since));
        var page = matching.Take(limit + 1).ToList();
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(limit);
        }

        return ValueTask.FromResult(new AuditPage([.. page], more ? page[^1].Sequence : null, state.State.Dropped));
    }

    private static string? Cut(string? json) =>
        json is { Length: > MaxSnapshotChars }
            ? System.Text.Json.JsonSerializer.Serialize(new { truncated = true, length = json.Length, start = json[..512] })
            : json;

    private static int Size(AuditRecord r) =>
        200 + r.Principal.Length + r.Action.Length + r.Target.Length + (r.Before?.Length ?? 0) + (r.After?.Length ?? 0) + (r.Note?.Length ?? 0) + (r.RequestId?.Length ?? 0) + r.Roles.Sum(x => x.Length);
}

/// <summary>Writes audit records from inside the cluster (automatic actions), where there is no HTTP request.</summary>
public static class AuditTrail
{
    public static readonly ImmutableArray<string> SystemRoles = ["system"];

    public static string? Snapshot<T>(T? value) => value is null ? null : System.Text.Json.JsonSerializer.Serialize(value, WebhookSender.Json);
}
