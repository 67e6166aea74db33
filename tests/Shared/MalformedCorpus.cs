using System.Globalization;
using System.Text;

namespace ConfusionMatrix.Tests.Shared;

/// <summary>
/// One input of the malformed corpus: a body in the public prediction format (JSON array or NDJSON), how many of its
/// records are good, and which are bad. <see cref="WholeBodyInvalid"/>: a JSON array body that is not JSON at all, so
/// the request as a whole is refused and nothing of it is counted. <see cref="RegistryOnly"/>: the bad record is bad
/// only against the model registry (an unknown class or model), which the Event Hubs parser does not consult.
/// </summary>
public sealed record CorpusCase(string Name, byte[] Body, bool Ndjson, int Good, int[] BadIndexes, bool WholeBodyInvalid, bool RegistryOnly)
{
    public string ContentType => Ndjson ? "application/x-ndjson" : "application/json";

    public override string ToString() => Name;
}

/// <summary>
/// At least 200 malformed inputs, built from one good record by breaking one thing at a time: every field with wrong
/// types, empty, oversized, invalid Unicode (lone surrogates), absurd numbers and timestamps; records that are not
/// objects; lines and bodies that are not JSON, deeply nested, or not UTF-8. Each bad record sits between good ones,
/// so a test can check that the good records of a mixed request are counted exactly once.
/// </summary>
public static class MalformedCorpus
{
    public static IReadOnlyList<CorpusCase> Build(string model, string version, DateTimeOffset now)
    {
        var cases = new List<CorpusCase>();
        var ts = now.AddMinutes(-1).ToString("O", CultureInfo.InvariantCulture);
        var counter = 0;

        string Good(string name, int i)
        {
            var actual = i % 3 == 0 ? "fraud" : "legit";
            var predicted = i % 4 == 0 ? "fraud" : "legit";
            var region = i % 2 == 0 ? "EU" : "US";
            return "{\"predictionId\":\"" + name + "-g" + i + "\",\"model\":\"" + model + "\",\"version\":\"" + version
                + "\",\"predicted\":\"" + predicted + "\",\"actual\":\"" + actual + "\",\"score\":0.25,\"timestamp\":\"" + ts
                + "\",\"segments\":{\"region\":\"" + region + "\"}}";
        }

        // A record with one field replaced by raw JSON (null: the field left out).
        string With(string name, string field, string? raw)
        {
            var fields = new List<(string Key, string Raw)>
            {
                ("predictionId", $"\"{name}-bad\""),
                ("model", $"\"{model}\""),
                ("version", $"\"{version}\""),
                ("predicted", "\"fraud\""),
                ("actual", "\"legit\""),
                ("score", "0.9"),
                ("timestamp", $"\"{ts}\""),
                ("segments", "{\"region\":\"EU\"}"),
            };
            var index = fields.FindIndex(f => f.Key == field);
            if (raw is null)
            {
                fields.RemoveAt(index);
            }
            else if (index >= 0)
            {
                fields[index] = (field, raw);
            }
            else
            {
                fields.Add((field, raw));
            }

            return "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Raw}")) + "}";
        }

        // Embeds one bad record (or bad line) among good ones, as an array and as NDJSON, at two positions.
        void Mixed(string what, Func<string, string> bad, bool registryOnly = false, bool ndjsonOnly = false)
        {
            foreach (var ndjson in ndjsonOnly ? new[] { true } : [false, true])
            {
                foreach (var first in new[] { false, true })
                {
                    var name = $"c{counter++}";
                    var records = new List<string> { Good(name, 0), Good(name, 1), Good(name, 2), Good(name, 3) };
                    var at = first ? 0 : 2;
                    records.Insert(at, bad(name));
                    var body = ndjson ? string.Join("\n", records) + "\n" : "[" + string.Join(",", records) + "]";
                    cases.Add(new CorpusCase($"{name} {(ndjson ? "ndjson" : "array")} {(first ? "first" : "middle")}: {what}", Encoding.UTF8.GetBytes(body), ndjson, 4, [at], false, registryOnly));
                }
            }
        }

        var longText = new string('x', 129);
        var hugeText = new string('y', 200_000);
        string[] wrongTypes = ["true", "{}", "[]", "{\"a\":1}", "[\"a\"]"];
        foreach (var field in new[] { "predictionId", "model", "version", "predicted" })
        {
            Mixed($"{field} missing", n => With(n, field, null));
            Mixed($"{field} null", n => With(n, field, "null"));
            Mixed($"{field} empty", n => With(n, field, "\"\""));
            Mixed($"{field} lone high surrogate", n => With(n, field, "\"a\\ud800\""));
            Mixed($"{field} lone low surrogate", n => With(n, field, "\"\\udc00b\""));
            foreach (var wrong in wrongTypes)
            {
                Mixed($"{field} {wrong}", n => With(n, field, wrong));
            }
        }

        Mixed("predictionId 129 characters", n => With(n, "predictionId", $"\"{longText}\""));
        Mixed("predictionId 200 000 characters", n => With(n, "predictionId", $"\"{hugeText}\""));
        Mixed("model 129 characters", n => With(n, "model", $"\"{longText}\""));
        Mixed("model with a slash", n => With(n, "model", $"\"{model}/x\""));
        Mixed("version with an equals sign", n => With(n, "version", "\"v=1\""));
        Mixed("version 129 characters", n => With(n, "version", $"\"{longText}\""));
        Mixed("model not registered", n => With(n, "model", "\"no-such-model\""), registryOnly: true);
        Mixed("predicted not a class", n => With(n, "predicted", "\"cat\""), registryOnly: true);
        Mixed("predicted 200 000 characters", n => With(n, "predicted", $"\"{hugeText}\""), registryOnly: true);

        Mixed("actual empty", n => With(n, "actual", "\"\""));
        Mixed("actual not a class", n => With(n, "actual", "\"dog\""), registryOnly: true);
        Mixed("actual lone surrogate", n => With(n, "actual", "\"\\ud83d\""));
        foreach (var wrong in wrongTypes)
        {
            Mixed($"actual {wrong}", n => With(n, "actual", wrong));
        }

        foreach (var score in new[] { "\"0.5\"", "\"NaN\"", "true", "{}", "[0.5]", "1e400", "-1e400", "\"Infinity\"" })
        {
            Mixed($"score {score}", n => With(n, "score", score));
        }

        foreach (var timestamp in new[]
        {
            "\"not a date\"", "\"\"", "\"1999-12-31T23:59:59Z\"", "\"0001-01-01T00:00:00Z\"", "\"9999-12-31T23:59:59Z\"",
            $"\"{now.AddHours(1):O}\"", "\"2026-13-45T99:99:99Z\"", "1700000000", "true", "{}", "[]", "\"\\ud800\"",
        })
        {
            Mixed($"timestamp {timestamp}", n => With(n, "timestamp", timestamp));
        }

        foreach (var segments in new[]
        {
            "\"EU\"", "[]", "5", "true", "{\"region\":\"\"}", "{\"region\":\"   \"}", "{\"region\":{}}", "{\"region\":[1]}",
            "{\"region\":null}", "{\"\":\"x\"}", $"{{\"region\":\"{longText}\"}}", "{\"region\":\"\\ud800\"}", "{\"\\udc00\":\"x\"}",
        })
        {
            Mixed($"segments {(segments.Length > 60 ? segments[..60] + "…" : segments)}", n => With(n, "segments", segments));
        }

        foreach (var notObject in new[] { "5", "\"a string\"", "[]", "[1,2]", "null", "true", "\"\\ud800\"" })
        {
            Mixed($"record {notObject}", _ => notObject);
        }

        // Lines that are not JSON: only NDJSON can carry them next to good records.
        var deep = new string('[', 2000) + new string(']', 2000);
        foreach (var line in new[]
        {
            "{", "}", "{\"predictionId\":", "NaN", "Infinity", "-Infinity", "{\"score\":NaN}", "{'single':'quotes'}",
            "{\"a\":1,}", "// comment", "{\"a\":1} trailing", "\u0001\u0002", $"{{\"x\":{deep}}}", "\"unterminated",
            "{\"predictionId\":\"x\\q\"}",
        })
        {
            Mixed($"line {(line.Length > 40 ? line[..40] + "…" : line)}", _ => line, ndjsonOnly: true);
        }

        // Bodies that are not JSON at all: the whole request is refused.
        foreach (var body in new[]
        {
            "", "[", "{", "[1,2", "nul", "[{\"a\":1},]", "[NaN]", "{\"predictions\":[]}", "]", "[[[[[[[[", "\"just a string\"",
            "[" + deep + "]", "[" + Good("w", 0) + "," + Good("w", 1), "[" + Good("w", 2) + "] trailing",
        })
        {
            cases.Add(new CorpusCase($"c{counter++} array body: {(body.Length > 40 ? body[..40] + "…" : body)}", Encoding.UTF8.GetBytes(body), false, 0, [], true, false));
        }

        // Bytes that are not UTF-8, inside a string of an otherwise good record.
        foreach (var bytes in new byte[][] { [0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80] })
        {
            var name = $"c{counter++}";
            var before = Encoding.UTF8.GetBytes(Good(name, 0) + "\n" + "{\"predictionId\":\"" + name + "-bad\",\"model\":\"" + model
                + "\",\"version\":\"" + version + "\",\"predicted\":\"fraud\",\"actual\":\"legit\",\"segments\":{\"region\":\"EU");
            var after = Encoding.UTF8.GetBytes("\"}}\n" + Good(name, 1) + "\n");
            cases.Add(new CorpusCase($"{name} ndjson: invalid UTF-8 {Convert.ToHexString(bytes)} in a segment value", [.. before, .. bytes, .. after], true, 2, [1], false, false));
        }

        return cases;
    }
}
