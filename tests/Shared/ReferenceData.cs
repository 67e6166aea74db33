using System.Text.Json;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>One labelled case of the oracle: class names, parallel label lists, and what scikit-learn computed from them.</summary>
public sealed record ReferenceCase(string Name, string[] Classes, string[] Actual, string[] Predicted, JsonElement Expected);

/// <summary>Loads the shared scikit-learn/scipy oracle at run time (it lives outside the repo and is never copied in).</summary>
public static class ReferenceData
{
    private const string RelativePath = "shared/reference/metrics-cases.json";

    private static readonly Lazy<JsonDocument> Document = new(() => JsonDocument.Parse(File.ReadAllText(Locate())));

    public static JsonElement Root => Document.Value.RootElement;

    public static IEnumerable<object[]> CaseNames() => Names("cases");

    public static IEnumerable<object[]> DivergenceNames() => Names("divergence");

    public static JsonElement Case(string name) => Find("cases", name);

    public static JsonElement DivergenceCase(string name) => Find("divergence", name);

    public static ReferenceCase LabelledCase(string name)
    {
        var c = Case(name);
        return new ReferenceCase(name, Strings(c.GetProperty("classes")), Strings(c.GetProperty("actual")), Strings(c.GetProperty("predicted")), c.GetProperty("expected"));
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    public static long[][] Matrix(JsonElement rows)
    {
        var result = new long[rows.GetArrayLength()][];
        int i = 0;
        foreach (JsonElement row in rows.EnumerateArray())
        {
            var values = new long[row.GetArrayLength()];
            int j = 0;
            foreach (JsonElement value in row.EnumerateArray())
            {
                values[j++] = value.GetInt64();
            }

            result[i++] = values;
        }

        return result;
    }

    /// <summary>Walks up from the test binaries; the file sits next to the repo root (../shared/reference).</summary>
    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string direct = Path.Combine(dir.FullName, RelativePath);
            if (File.Exists(direct))
            {
                return direct;
            }

            string sibling = Path.GetFullPath(Path.Combine(dir.FullName, "..", RelativePath));
            if (File.Exists(sibling))
            {
                return sibling;
            }
        }

        throw new FileNotFoundException($"Could not find {RelativePath} above {AppContext.BaseDirectory}.");
    }

    private static IEnumerable<object[]> Names(string section)
    {
        foreach (JsonElement item in Root.GetProperty(section).EnumerateArray())
        {
            yield return [item.GetProperty("name").GetString()!];
        }
    }

    private static JsonElement Find(string section, string name)
    {
        foreach (JsonElement item in Root.GetProperty(section).EnumerateArray())
        {
            if (item.GetProperty("name").GetString() == name)
            {
                return item;
            }
        }

        throw new KeyNotFoundException($"No {section} entry named '{name}'.");
    }
}

internal static class Approx
{
    public const double Relative = 1e-9;
    public const double AbsoluteForZero = 1e-12;

    /// <summary>Relative 1e-9, or absolute 1e-12 when the expected value is exactly zero.</summary>
    public static void Equal(double expected, double actual, string what)
    {
        bool ok = expected == 0
            ? Math.Abs(actual) <= AbsoluteForZero
            : Math.Abs(actual - expected) <= Relative * Math.Abs(expected);
        Assert.True(ok, $"{what}: expected {expected:R}, got {actual:R} (rel err {Math.Abs(actual - expected) / Math.Abs(expected):E2})");
    }
}
