using System.Text.Json;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>One labelled case of an oracle: class names, parallel label lists, and what scikit-learn computed from them.</summary>
public sealed record ReferenceCase(string Source, string Name, string[] Classes, string[] Actual, string[] Predicted, JsonElement Expected);

/// <summary>
/// The scikit-learn/scipy oracles. <see cref="InRepo"/> is the repository's own file (tests/reference/metrics-cases.json,
/// written by reference/generate.py and copied next to the test binaries), so a clone tests itself anywhere.
/// <see cref="Extra"/> is an independently computed oracle of the same schema named by the environment variable
/// <see cref="ExtraOracleVariable"/>; when it is set every theory also runs over its cases (a path that does not exist
/// fails the run), and when it is not its cases are simply not in the theory data (nothing is skipped or faked).
/// </summary>
public static class ReferenceData
{
    public const string InRepo = "repo";
    public const string Extra = "extra";

    /// <summary>The path of a second oracle to run every reference theory over as well.</summary>
    public const string ExtraOracleVariable = "CONFUSIONMATRIX_EXTRA_ORACLE";

    private const string InRepoFile = "reference/metrics-cases.json";

    private static readonly Lazy<IReadOnlyDictionary<string, JsonDocument>> Documents = new(Load);

    /// <summary>The oracles loaded for this run: always <see cref="InRepo"/>, then <see cref="Extra"/> when named.</summary>
    public static IReadOnlyList<string> Sources => [.. Documents.Value.Keys.Order(StringComparer.Ordinal)];

    public static JsonElement Root(string source) =>
        Documents.Value.TryGetValue(source, out var document)
            ? document.RootElement
            : throw new KeyNotFoundException($"No oracle '{source}' is loaded (loaded: {string.Join(", ", Documents.Value.Keys)}).");

    /// <summary>Theory data: one (source, name) row per labelled case of every loaded oracle.</summary>
    public static IEnumerable<object[]> CaseNames() => Names("cases");

    /// <summary>Theory data: one (source, name) row per divergence case of every loaded oracle.</summary>
    public static IEnumerable<object[]> DivergenceNames() => Names("divergence");

    public static JsonElement Case(string source, string name) => Find(source, "cases", name);

    public static JsonElement DivergenceCase(string source, string name) => Find(source, "divergence", name);

    public static ReferenceCase LabelledCase(string source, string name)
    {
        var c = Case(source, name);
        return new ReferenceCase(source, name, Strings(c.GetProperty("classes")), Strings(c.GetProperty("actual")), Strings(c.GetProperty("predicted")), c.GetProperty("expected"));
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    public static long[][] Matrix(JsonElement rows)
    {
        var result = new long[rows.GetArrayLength()][];
        var i = 0;
        foreach (var row in rows.EnumerateArray())
        {
            var values = new long[row.GetArrayLength()];
            var j = 0;
            foreach (var value in row.EnumerateArray())
            {
                values[j++] = value.GetInt64();
            }

            result[i++] = values;
        }

        return result;
    }

    /// <summary>The in-repo file is copied to the output directory; the extra one is wherever its variable says.</summary>
    private static IReadOnlyDictionary<string, JsonDocument> Load()
    {
        var inRepo = Path.Combine(AppContext.BaseDirectory, InRepoFile);
        if (!File.Exists(inRepo))
        {
            throw new FileNotFoundException($"The in-repo oracle was not copied next to the test binaries: {inRepo}.");
        }

        var documents = new Dictionary<string, JsonDocument>(StringComparer.Ordinal) { [InRepo] = JsonDocument.Parse(File.ReadAllText(inRepo)) };
        if (Environment.GetEnvironmentVariable(ExtraOracleVariable) is { Length: > 0 } extra)
        {
            documents[Extra] = File.Exists(extra)
                ? JsonDocument.Parse(File.ReadAllText(extra))
                : throw new FileNotFoundException($"{ExtraOracleVariable} names {Path.GetFullPath(extra)}, which does not exist.");
        }

        return documents;
    }

    private static IEnumerable<object[]> Names(string section)
    {
        foreach (var source in Sources)
        {
            foreach (var item in Root(source).GetProperty(section).EnumerateArray())
            {
                yield return [source, item.GetProperty("name").GetString()!];
            }
        }
    }

    private static JsonElement Find(string source, string section, string name)
    {
        foreach (var item in Root(source).GetProperty(section).EnumerateArray())
        {
            if (item.GetProperty("name").GetString() == name)
            {
                return item;
            }
        }

        throw new KeyNotFoundException($"No {section} entry named '{name}' in the {source} oracle.");
    }
}

internal static class Approx
{
    public const double Relative = 1e-9;
    public const double AbsoluteForZero = 1e-12;

    /// <summary>Relative 1e-9, or absolute 1e-12 when the expected value is exactly zero.</summary>
    public static void Equal(double expected, double actual, string what)
    {
        var ok = expected == 0
            ? Math.Abs(actual) <= AbsoluteForZero
            : Math.Abs(actual - expected) <= Relative * Math.Abs(expected);
        Assert.True(ok, $"{what}: expected {expected:R}, got {actual:R} (rel err {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
    }
}
