using System.Collections.Immutable;

namespace ConfusionMatrix.Abstractions;

/// <summary>
/// One audited action: who (the authenticated principal and its roles), what, on what, when, the state before and
/// after where it applies (JSON), the HTTP request it came from, and a free note (a reason, or an <c>actor</c> the
/// caller wrote in the body). The sequence is the trail's own, increasing by one per record.
/// </summary>
[GenerateSerializer, Immutable, Alias("cm.AuditRecord")]
public sealed record AuditRecord(
    [property: Id(0)] long Sequence,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Principal,
    [property: Id(3)] ImmutableArray<string> Roles,
    [property: Id(4)] string Action,
    [property: Id(5)] string Target,
    [property: Id(6)] string? Before,
    [property: Id(7)] string? After,
    [property: Id(8)] string? RequestId,
    [property: Id(9)] string? Note,
    [property: Id(10)] int? Status);

/// <summary>A page of the trail, oldest first; <see cref="Next"/> is the <c>after</c> of the next page, null at the end.</summary>
[GenerateSerializer, Immutable, Alias("cm.AuditPage")]
public sealed record AuditPage(
    [property: Id(0)] ImmutableArray<AuditRecord> Records,
    [property: Id(1)] long? Next,
    [property: Id(2)] long Dropped);

/// <summary>
/// The audit trail of one model, keyed by model name: append-only, bounded to the newest records. Nothing removes or
/// changes a record but the bound.
/// </summary>
[Alias("cm.IAuditTrailGrain")]
public interface IAuditTrailGrain : IGrainWithStringKey
{
    /// <summary>Stores the record (its <see cref="AuditRecord.Sequence"/> is assigned here) and returns its sequence.</summary>
    [Alias("Append")]
    Task<long> AppendAsync(AuditRecord record);

    /// <summary>Records with a sequence above <paramref name="after"/> and a time at or after <paramref name="since"/>, oldest first.</summary>
    [Alias("Read"), Orleans.Concurrency.ReadOnly]
    ValueTask<AuditPage> ReadAsync(DateTimeOffset? since, long? after, int limit);
}
