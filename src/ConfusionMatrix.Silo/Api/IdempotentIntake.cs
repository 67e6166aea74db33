using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ConfusionMatrix.Abstractions;

namespace ConfusionMatrix.Silo.Api;

/// <summary>
/// <c>Idempotency-Key</c> on <c>POST /api/v1/predictions</c>: a retried request with the same key and body is not
/// counted again and gets the first answer. The key's shard reserves batch numbers before anything is published and
/// stores the answer after everything is, so a retry after a timeout, a 503 or a silo that died mid-request publishes
/// the same numbered batches and the segment grains count each once.
/// </summary>
internal static class IdempotentIntake
{
    public static IResult? ReadKey(HttpContext http, out string? key, out HashingReadStream? body)
    {
        key = null;
        body = null;
        if (!http.Request.Headers.TryGetValue(Idempotency.Header, out var values))
        {
            return null;
        }

        key = values.ToString();
        if (values.Count != 1 || !Idempotency.IsValidKey(key))
        {
            return ApiEndpoints.Problem(400, "Invalid Idempotency-Key", $"'{Idempotency.Header}' must be one value of 1 to {Idempotency.MaxKeyLength} printable ASCII characters (a UUID, for example).");
        }

        body = new HashingReadStream(http.Request.Body);
        http.Request.Body = body;
        return null;
    }

    public static async Task<IResult> CompleteAsync(HttpContext http, PredictionIntake.Session session, string key, HashingReadStream body, IGrainFactory grains, ILocalSiloDetails silo)
    {
        var shard = grains.GetGrain<IIdempotencyGrain>(Idempotency.ShardOf(key));

        // The body's hash and how it was read (array or NDJSON) identify the request; the same key with another body is refused.
        var fingerprint = $"{body.Hash()}|{http.Request.ContentType}";
        IdempotencyReservation reservation;
        try
        {
            reservation = await shard.BeginAsync(key, fingerprint, session.BatchCount, silo.SiloAddress);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            http.Response.Headers.RetryAfter = "5";
            return ApiEndpoints.Problem(503, "Idempotency keys unavailable", $"The key could not be reserved ({ex.GetType().Name}); nothing was counted. Send the request again with the same key.");
        }

        switch (reservation.Status)
        {
            case IdempotencyStatus.Replay:
                http.Response.Headers[Idempotency.ReplayedHeader] = "true";
                return Results.Text(reservation.Response!, "application/json", Encoding.UTF8, reservation.StatusCode);
            case IdempotencyStatus.InProgress:
                http.Response.Headers.RetryAfter = "1";
                return ApiEndpoints.Problem(409, "Request in progress", $"A request with {Idempotency.Header} '{key}' is being handled; retry it in a moment for its answer.");
            case IdempotencyStatus.Mismatch:
                return ApiEndpoints.Problem(422, "Idempotency-Key reused", $"{Idempotency.Header} '{key}' was used for a different body within the last day (or too long ago to replay safely); use a new key for a new request.");
        }

        var response = await session.CompleteAsync((reservation.ProducerId, reservation.FirstSequence));
        var status = ApiEndpoints.IntakeStatus(http, response);
        var json = JsonSerializer.Serialize(response, JsonSerializerOptions.Web);
        if (response.Rejected.Any(r => r.Reason == RejectionReasons.Unavailable))
        {
            // Part of it is not in the log: keep the reservation and its numbers for the retry, do not store this answer.
            await shard.ReleaseAsync(key);
        }
        else
        {
            await shard.CompleteAsync(key, status, json);
        }

        return Results.Text(json, "application/json", Encoding.UTF8, status);
    }
}

/// <summary>Passes a request body through while hashing it (SHA-256), so the body is read once.</summary>
internal sealed class HashingReadStream(Stream inner) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public string Hash() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = inner.Read(buffer, offset, count);
        _hash.AppendData(buffer, offset, n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        _hash.AppendData(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
