using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using ConfusionMatrix.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Xunit.Abstractions;

namespace ConfusionMatrix.Grains.Tests;

/// <summary>
/// During a rolling upgrade silos of two releases exchange messages, and stored grain state outlives both. Orleans
/// finds types and methods by their <c>[Alias]</c> and fields by their <c>[Id]</c>, so those are the contract: every
/// wire type, grain interface and grain method has an alias, no alias is used twice, and bytes written by this release
/// (kept below as base64) still read back as the same values. A renumbered id or a changed alias fails here.
/// </summary>
public sealed class WireCompatibilityTests(ITestOutputHelper output)
{
    private static readonly Assembly[] WireAssemblies = [typeof(PredictionBatch).Assembly, typeof(SegmentMatrixGrain).Assembly];

    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 34, 56, TimeSpan.Zero);

    /// <summary>A representative value per contract, with the bytes this release wrote for it.</summary>
    private static readonly Dictionary<string, (Func<object> Value, string Bytes)> Golden = new()
    {
        ["PredictionBatch"] = (() => new PredictionBatch(
            "fraud", "v2", "producer-1", 42, ["legit", "fraud"], [0, 1, 1], [0, 1, 0], [At.UtcTicks, At.UtcTicks + 1, At.UtcTicks + 2],
            ["region"], ["EU", "US"], [0, 1, 0], ["p-1", "p-2", "p-3"], [0.1f, 0.9f, 0.4f], "00-abc-def-01", At), "MAESUq70JWNtLlByZWRpY3Rpb25CYXRjaOhAC2ZyYXVkQQV2MkEVcHJvZHVjZXItMQGpISAABUELbGVnaXTABeDgIQAHAQEAAwAD4CEABwEBAAMAAeAhAAeBANgLV95O3wiAAdgLV95O3wiAAtgLV95O3wjgISAAA0ENcmVnaW9u4OAhIAAFQQVFVUAFVVPg4CEABwEBAAUAAeAhAAdBB3AtMUAHcC0yQAdwLTPgIQAHYc3MzD1gZmZmP2DNzMw+4EEbMDAtYWJjLWRlZi0wMSGAANgLV95O3wiBAAAAAAAAAADg4A=="),
        ["SegmentCounts"] = (() => new SegmentCounts(
            "producer-1:42", 2, TimeSpan.TicksPerMinute, [new CountsPart("producer-1", 42, 2), new CountsPart("producer-2", 7, 1)],
            [At.UtcTicks, At.UtcTicks, At.UtcTicks + TimeSpan.TicksPerMinute], [0, 3, 1], [5, 2, 1]), "MAEVPIRyIWNtLlNlZ21lbnRDb3VudHPoQBtwcm9kdWNlci0xOjQyAQlhAEbDIyEgAAUh6EAVcHJvZHVjZXItMQGpAQngIOhAFXByb2R1Y2VyLTIBHQEF4ODgIQAHgQDYC1feTt8IgADYC1feTt8IgAAez3reTt8I4CEABwEBAA0ABeAhAAcBFQAJAAXg4A=="),
        ["DriftVerdict"] = (() => Verdict(), "MAEKKV1vH2NtLkRyaWZ0VmVyZGljdOhAC2ZyYXVkQQV2MkETcmVnaW9uPUVVQQtkcmlmdEEvcmVjYWxsIG9mIGZyYXVkIGRyb3BwZWRBD2hvbGRvdXSBWDm0yHa+nz+B/Knx0k1igD+BAAAAAADAREABDYE6jDDijnlFPoE6jDDijnllPgGCJQFCnCEgAAMh6MAFQQ1yZWNhbGyBPQrXo3A96j+BexSuR+F65D+BCtejcD0Kxz+B/Knx0k1iUD+BmpmZmZmZqT8BggwBwgMBAwEDAQOBCtejcD0Ktz+BSOF6FK5H0T+BAAAAAADAYkABA+Dg4CGAANgLV95O3wiBAAAAAAAAAADgATGBAAAAAAAQZEABAeA="),
        ["RolloutView"] = (() => new RolloutView(
            new RoutingTable("fraud", "v1", "v2", 25, RolloutPhase.Paused), "v0", At,
            new RolloutPolicy(true, false, true, TimeSpan.FromMinutes(30), ["https://hooks.example/rollout"], true) { WebhookSecret = "0123456789abcdef" },
            [new RolloutTransition(3, At, RolloutActions.Pause, "drift-watcher", "recall drop", RolloutPhase.Progressing, RolloutPhase.Paused, "v1", "v2", 25, Verdict())]), "MAHgDqjMHWNtLlJvbGxvdXRWaWV36CDoQAtmcmF1ZEEFdjFBBXYyAWUBDeBBBXYwIYAA2AtX3k7fCIEAAAAAAAAAAOAh6AADAQEBA4EANOIwBAAAACEgAANBO2h0dHBzOi8vaG9va3MuZXhhbXBsZS9yb2xsb3V04OABA0EhMDEyMzQ1Njc4OWFiY2RlZuAhIAADIegADSGAANgLV95O3wiBAAAAAAAAAADgQQtwYXVzZUEbZHJpZnQtd2F0Y2hlckEXcmVjYWxsIGRyb3ABCQENwQnBCwFlIejAB8ELQRNyZWdpb249RVVBC2RyaWZ0QS9yZWNhbGwgb2YgZnJhdWQgZHJvcHBlZEEPaG9sZG91dIFYObTIdr6fP4H8qfHSTWKAP4EAAAAAAMBEQAENgTqMMOKOeUU+gTqMMOKOeWU+AYIlAUKcISAAAyHowAdBDXJlY2FsbIE9CtejcD3qP4F7FK5H4XrkP4EK16NwPQrHP4H8qfHSTWJQP4GamZmZmZmpPwGCDAHCAwEDAQMBA4EK16NwPQq3P4FI4XoUrkfRP4EAAAAAAMBiQAED4ODgIYAA2AtX3k7fCIEAAAAAAAAAAOABMYEAAAAAABBkQAEB4ODg4OA="),
        ["ModelDefinition"] = (() => new ModelDefinition("fraud", ["legit", "fraud"], "fraud", ["region", "channel"], At, TimeSpan.FromDays(30), TimeSpan.FromHours(2)), "MAHrkKm8JWNtLk1vZGVsRGVmaW5pdGlvbuhAC2ZyYXVkISAABUELbGVnaXTABeDgwQUhIAAFQQ1yZWdpb25AD2NoYW5uZWzg4CGAANgLV95O3wiBAAAAAAAAAADggQCAZPiSFwAAgQDQiMMQAAAA4A=="),
        ["SegmentMatrixState"] = (() => new SegmentMatrixState
        {
            ClassCount = 2,
            AllTimeCells = [0, 10, 3, 2, 1, 4],
            MinuteBucketStartsUtcTicks = [At.UtcTicks],
            MinuteBucketCells = [[0, 10, 3, 2]],
            HourBucketStartsUtcTicks = [At.UtcTicks],
            HourBucketCells = [[0, 10]],
            DayBucketStartsUtcTicks = [At.UtcTicks],
            DayBucketCells = [[3, 2]],
            Holdout = new SparseMatrix(2, [0, 3], [50, 40]),
            HoldoutSetAt = At,
            BatchesApplied = 17,
            Watermarks = new(StringComparer.Ordinal) { ["producer-1"] = new ProducerWatermark(42, 0b1011, At, [7UL]) },
            DuplicatesSkipped = 2,
            LabelStatus = new RollingSnapshotState { ClassCount = 2, AllTimeCells = [1, 3], MinuteStarts = [At.UtcTicks], MinuteCells = [[1, 3]] },
            StateWrites = 9,
        }, "MAF9CbDlK2NtLlNlZ21lbnRNYXRyaXhTdGF0ZQAJIQANAQEAKQANAAkABQAR4CEAA4EA2AtX3k7fCOAhAAMhAAkBAQApAA0ACeDgIQADgQDYC1feTt8I4CEAAyEABQEBACng4CHoAAkhAAUBAQAN4CEABQHJAKHg4CGAANgLV95O3wiBAAAAAAAAAADgAUUhMAExLNQuHVN0cmluZ0NvbXBhcmVyAAMBAeABA0EVcHJvZHVjZXItMSDoAKkBFyGAANgLV95O3wiBAAAAAAAAAADgIQADAQ/g4OABCSEAA4EA2AtX3k7fCOAhAAMhAAUBDQAJ4OAhAAkhAAUBBQAN4CEAA4EA2AtX3k7fCOAhAAMhAAUBBQAN4OAh4CHgwavBreDBAQEl4A=="),
        ["RolloutState"] = (() => new RolloutState
        {
            Stable = "v1",
            Canary = "v2",
            CanaryWeightPercent = 10,
            WeightBeforePause = 25,
            Phase = RolloutPhase.Paused,
            PreviousStable = "v0",
            PromotedAt = At,
            Policy = new RolloutPolicy(GuardPeriod: TimeSpan.FromHours(2)),
            History = [new RolloutTransition(1, At, RolloutActions.StartCanary, "alice", "release 2", RolloutPhase.Stable, RolloutPhase.Progressing, "v1", "v2", 10, null)],
            NextSequence = 2,
            Dropped = 5,
        }, "MAEOFB5BH2NtLlJvbGxvdXRTdGF0ZUAFdjFBBXYyASkBZQENQQV2MCGAANgLV95O3wiBAAAAAAAAAADgIegAAwEDAQOBANCIwxAAAAAhIODgAQHBAeAhAAMh6AAFIYAA2AtX3k7fCIEAAAAAAAAAAOBBGXN0YXJ0LWNhbmFyeUELYWxpY2VBE3JlbGVhc2UgMgEFAQnBBcEHASnBAeDgAQkBFeA="),
    };

    public static TheoryData<string> GoldenNames => [.. Golden.Keys];

    [Fact]
    public void WireTypes_CarryAnAlias_Everywhere()
    {
        var missing = WireAssemblies.SelectMany(a => a.GetTypes())
            .Where(t => t.IsDefined(typeof(GenerateSerializerAttribute), false) && !t.IsDefined(typeof(AliasAttribute), false))
            .Select(t => t.FullName)
            .ToList();

        Expect.Equal(0, missing.Count, $"[GenerateSerializer] types without [Alias]:\n{string.Join("\n", missing)}");
    }

    [Fact]
    public void GrainInterfacesAndMethods_CarryAnAlias_Everywhere()
    {
        var interfaces = GrainInterfaces().ToList();
        Assert.Contains(typeof(ISegmentMatrixGrain), interfaces);
        Assert.Contains(typeof(IRolloutControllerGrain), interfaces);

        var missing = new List<string>();
        foreach (var grainInterface in interfaces)
        {
            if (!grainInterface.IsDefined(typeof(AliasAttribute), false))
            {
                missing.Add(grainInterface.FullName!);
            }

            missing.AddRange(grainInterface.GetMethods()
                .Where(m => !m.IsDefined(typeof(AliasAttribute), false))
                .Select(m => $"{grainInterface.Name}.{m.Name}"));
        }

        Expect.Equal(0, missing.Count, $"grain interfaces or methods without [Alias]:\n{string.Join("\n", missing)}");
    }

    [Fact]
    public void Aliases_AreUsedOnce()
    {
        var typeAliases = WireAssemblies.SelectMany(a => a.GetTypes())
            .Select(t => (Name: t.FullName!, Alias: t.GetCustomAttribute<AliasAttribute>(false)?.Alias))
            .Where(t => t.Alias is not null)
            .ToList();
        Assert.True(typeAliases.Count >= 40, $"only {typeAliases.Count} aliased types found");
        var reused = typeAliases.GroupBy(t => t.Alias).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(t => t.Name))}").ToList();

        foreach (var grainInterface in GrainInterfaces())
        {
            reused.AddRange(grainInterface.GetMethods()
                .GroupBy(m => m.GetCustomAttribute<AliasAttribute>(false)?.Alias)
                .Where(g => g.Key is not null && g.Count() > 1)
                .Select(g => $"{grainInterface.Name}.{g.Key}: {g.Count()} methods"));
        }

        Expect.Equal(0, reused.Count, $"aliases used more than once:\n{string.Join("\n", reused)}");
    }

    [Theory]
    [MemberData(nameof(GoldenNames))]
    public void BytesOfThisRelease_ReadBack_AsTheSameValue(string name)
    {
        var serializer = Serializer();
        var (value, bytes) = Golden[name];
        var expected = value();
        var current = Convert.ToBase64String(serializer.SerializeToArray(expected));
        output.WriteLine($"{name} as written now: {current}");
        Assert.False(string.IsNullOrEmpty(bytes), $"no stored bytes for {name}; this release writes {current}");

        var read = serializer.Deserialize<object>(Convert.FromBase64String(bytes));

        Assert.IsType(expected.GetType(), read);
        Assert.Equal(Json(expected), Json(read));
    }

    [Fact]
    public void DriftPolicyDefaults_OnTheWire_AreCoresDefaults()
    {
        // The thresholds are defined, with why each default is safe, in Core's DriftPolicy; the wire record repeats the
        // values because the wire contract does not depend on Core. Any difference shows here.
        Assert.Equal(new ConfusionMatrix.Core.Drift.DriftPolicy(), WireMapping.ToCore(new DriftPolicySettings()));
    }

    private static IEnumerable<Type> GrainInterfaces() =>
        typeof(PredictionBatch).Assembly.GetTypes().Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t));

    private static Serializer Serializer() =>
        new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(PredictionBatch).Assembly).AddAssembly(typeof(SegmentMatrixGrain).Assembly))
            .BuildServiceProvider()
            .GetRequiredService<Serializer>();

    /// <summary>Deep comparison of records holding arrays (record equality compares arrays by reference).</summary>
    private static string Json(object value) => JsonSerializer.Serialize(value, value.GetType(), new JsonSerializerOptions { IncludeFields = true });

    private static DriftVerdict Verdict() => new(
        "fraud", "v2", "region=EU", DriftVerdict.Drift, "recall of fraud dropped", "holdout", 0.031, 0.008, 41.5, 3, 1e-8, 4e-8, 1200, 5000,
        [new ClassDeltaView("fraud", "recall", 0.82, 0.64, 0.18, 0.001, 0.05, 400, 120, true, true, true, 0.09, 0.27, 150.0, true)],
        At, 12, 160.5, false);
}
