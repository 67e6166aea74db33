using System.CommandLine;
using System.Globalization;
using ConfusionMatrix.Abstractions;
using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Cli;

/// <summary>
/// <c>cmx compare</c>: one look of the drift watcher's statistics (<see cref="DriftEvaluator"/>) of a candidate matrix
/// against a baseline. Exit 0 when no class got worse beyond the tolerance, 1 when one did, 2 on bad input.
/// </summary>
internal static class CompareCommand
{
    public static Command Create(CmxConsole console)
    {
        var candidate = new Option<string>("--candidate") { Description = "Candidate: a prediction or matrix JSON file, or a URL of the silo's matrix endpoint.", Required = true };
        var baseline = new Option<string>("--baseline") { Description = "Baseline: a file, a URL (matrix or baseline endpoint), or mlflow:MODEL@ALIAS / mlflow:MODEL/VERSION.", Required = true };
        var segment = new Option<string>("--segment") { Description = "Segment to compare when a source holds several (all, region=EU…).", DefaultValueFactory = _ => Segments.All };
        var minDrop = new Option<double?>("--min-drop") { Description = "Tolerance: a recall drop (or false-positive-rate rise) whose lower confidence bound exceeds it counts (default: the drift policy's 0.02)." };
        var alpha = new Option<double?>("--alpha") { Description = "False-alarm rate of the comparison (default: the drift policy's 0.05)." };
        var minSamples = new Option<long?>("--min-samples") { Description = "Predictions each side needs before anything is judged (default: the drift policy's 200)." };
        var requireEvidence = new Option<bool>("--require-evidence") { Description = "Exit 1 instead of 0 when there is not enough data to judge." };
        var trackingUri = new Option<string?>("--tracking-uri") { Description = "MLflow tracking server for mlflow: sources (default: MLFLOW_TRACKING_URI)." };

        var command = new Command("compare", "Compare a candidate's confusion matrix with a baseline using the drift watcher's statistics.")
        {
            candidate, baseline, segment, minDrop, alpha, minSamples, requireEvidence, trackingUri,
        };
        command.SetAction(async (parse, ct) =>
        {
            var seg = parse.GetValue(segment)!;
            var tracking = parse.GetValue(trackingUri);
            var live = await MatrixSource.LoadAsync(parse.GetValue(candidate)!, seg, tracking, ct);
            var reference = await MatrixSource.LoadAsync(parse.GetValue(baseline)!, seg, tracking, ct);
            reference = reference.Reorder(live.Classes, live.Source);

            var policy = DriftPolicy.Default;
            if (parse.GetValue(minDrop) is { } drop)
            {
                // Severity only grades a drop; it must not undercut the tolerance.
                policy = policy with { Tolerance = drop, SevereDrop = Math.Max(policy.SevereDrop, Math.Min(1, drop * 2)) };
            }

            if (parse.GetValue(alpha) is { } a)
            {
                policy = policy with { Alpha = a };
            }

            if (parse.GetValue(minSamples) is { } n)
            {
                policy = policy with { MinSamples = n };
            }

            if (policy.Validate() is { Count: > 0 } problems)
            {
                throw new CmxException(string.Join("; ", problems));
            }

            var verdict = DriftEvaluator.Evaluate(live.Counts, reference.Counts, policy, new SequentialState(), live.Classes);
            var worse = verdict.Decision is DriftDecision.Drift or DriftDecision.Severe;
            var insufficient = verdict.Decision is DriftDecision.InsufficientEvidence;
            var word = worse ? "WORSE" : insufficient ? "INSUFFICIENT EVIDENCE" : "OK";
            await console.Out.WriteLineAsync($"{word}: {verdict.Decision}: {verdict.Reason}");
            await console.Out.WriteLineAsync($"candidate {live.Source}: {verdict.LiveTotal} predictions; baseline {reference.Source}: {verdict.ReferenceTotal} predictions; KL {verdict.Divergence.Kl.ToString("0.0000", CultureInfo.InvariantCulture)} nats");
            await console.Out.WriteLineAsync($"{"class",-20}{"metric",-11}{"baseline",10}{"candidate",11}{"drop",9}{"drop bounds",20}  finding");
            foreach (var d in verdict.ClassDeltas)
            {
                var finding = d.IsAlarm ? "drop beyond the tolerance" : !d.Sufficient ? "too few to judge" : d.UpperBound < policy.Tolerance ? "within the tolerance" : "not conclusive";
                var bounds = d.Sufficient ? string.Create(CultureInfo.InvariantCulture, $"[{d.LowerBound:+0.0000;-0.0000;0}, {d.UpperBound:+0.0000;-0.0000;0}]") : "";
                await console.Out.WriteLineAsync(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{live.Classes[d.ClassIndex],-20}{d.Metric,-11}{d.Reference,10:0.0000}{d.Live,11:0.0000}{d.Drop,9:+0.0000;-0.0000;0}{bounds,20}  {finding}"));
            }

            return worse || (insufficient && parse.GetValue(requireEvidence)) ? ExitCodes.Failed : ExitCodes.Ok;
        });
        return command;
    }
}
