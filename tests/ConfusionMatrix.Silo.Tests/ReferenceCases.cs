using System.Text.Json;

namespace ConfusionMatrix.Silo.Tests;

/// <summary>One case of the shared oracle file: labels and the metrics scikit-learn computed from them.</summary>
public sealed record ReferenceCase(string Name, string[] Classes, string[] Actual, string[] Predicted, JsonElement Expected);

/// <summary>Reads <c>shared/reference/metrics-cases.json</c>, which lives beside the repository root.</summary>
public static class ReferenceCases
{
    private static readonly Lazy<IReadOnlyDictionary<string, ReferenceCase>> Cases = new(Load);

    public static string FilePath => Path.GetFullPath(Path.Combine(SiloBinaries.RepositoryRoot, "..", "shared", "reference", "metrics-cases.json"));

    public static IReadOnlyDictionary<string, ReferenceCase> All => Cases.Value;

    public static IEnumerable<object[]> Names() => All.Keys.Select(name => new object[] { name });

    private static IReadOnlyDictionary<string, ReferenceCase> Load()
    {
        var path = FilePath;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The reference file is missing: {path}", path);
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var result = new Dictionary<string, ReferenceCase>(StringComparer.Ordinal);
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var name = c.GetProperty("name").GetString()!;
            result.Add(name, new ReferenceCase(
                name,
                Strings(c.GetProperty("classes")),
                Strings(c.GetProperty("actual")),
                Strings(c.GetProperty("predicted")),
                c.GetProperty("expected").Clone()));
        }

        if (result.Count == 0)
        {
            throw new InvalidDataException($"{path} lists no cases.");
        }

        return result;
    }

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}
