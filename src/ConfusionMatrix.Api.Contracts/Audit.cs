using System.Text.Json;

namespace ConfusionMatrix.Api.Contracts;

public sealed record AuditRecordResponse(
    long Sequence,
    DateTimeOffset At,
    string Principal,
    IReadOnlyList<string> Roles,
    string Action,
    string Target,
    JsonElement? Before,
    JsonElement? After,
    string? RequestId,
    string? Note,
    int? Status);

public sealed record AuditPageResponse(string Model, IReadOnlyList<AuditRecordResponse> Records, long? Next, long Dropped);

public sealed record MeResponse(string Name, IReadOnlyList<string> Roles, string? AuthenticationType);
