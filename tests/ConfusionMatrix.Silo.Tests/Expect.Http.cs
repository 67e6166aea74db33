using System.Net;
using System.Text.Json;
using ConfusionMatrix.Silo.Tests;
using Xunit.Sdk;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>Assertions on the silo's HTTP answers, next to the shared ones.</summary>
public static partial class Expect
{
    /// <summary>Equal within 1e-9 relative, or 1e-12 absolute near zero.</summary>
    public static void Close(double expected, double actual, string what)
    {
        var tolerance = Math.Max(1e-12, 1e-9 * Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"{what}: expected {expected:R}, got {actual:R}");
    }

    public static long[][] Counts(JsonElement matrix) =>
        [.. matrix.GetProperty("counts").EnumerateArray().Select(row => row.EnumerateArray().Select(c => c.GetInt64()).ToArray())];

    public static void SameCounts(long[][] expected, long[][] actual, string what)
    {
        // Compared as their rendering: it is exact for integer matrices and the failure shows both whole.
        Equal(Show(expected), Show(actual), $"{what}: counts differ");
    }

    public static string Show(long[][] counts) => "[" + string.Join(", ", counts.Select(r => "[" + string.Join(",", r) + "]")) + "]";

    /// <summary>Assert.Equal on the HTTP status, with the whole response in the failure message.</summary>
    public static void Status(HttpStatusCode expected, ApiResponse response, string? what = null)
    {
        if (response.Status != expected)
        {
            throw EqualException.ForMismatchedValues($"{(int)expected} {expected}", $"{(int)response.Status} {response.Status}", $"HTTP status differs{(what is null ? "" : $" ({what})")}; the response: {response}");
        }
    }

    /// <summary>An RFC 7807 problem with the status and a detail containing every fragment.</summary>
    public static void Problem(ApiResponse response, HttpStatusCode status, params string[] detailFragments)
    {
        Status(status, response);
        Equal("application/problem+json", response.ContentType, $"not a problem document: {response}");
        var json = response.Json;
        Assert.Equal((int)status, json.GetProperty("status").GetInt32());
        Assert.True(json.TryGetProperty("detail", out var detail), $"no detail in {response}");
        Equal(JsonValueKind.String, detail.ValueKind, $"the detail is not a string: {response}");
        foreach (var fragment in detailFragments)
        {
            Assert.True(detail.GetString()!.Contains(fragment, StringComparison.Ordinal), $"detail should mention \"{fragment}\": {response}");
        }
    }
}
