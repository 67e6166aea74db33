using ConfusionMatrix.Core.Drift;

namespace ConfusionMatrix.Core.Tests.Drift;

public sealed class DriftGateTests
{
    [Fact]
    public void NoSegment_IsInconclusive_NeverPass()
    {
        var result = DriftGate.Evaluate("v2", []);

        Assert.Equal(GateOutcome.Inconclusive, result.Outcome);
        Assert.False(result.Pass);
        Assert.Contains("no segment of v2", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyInsufficientSegments_AreInconclusive()
    {
        var result = DriftGate.Evaluate("v2", [
            new GateSegment("region=EU", DriftDecision.InsufficientEvidence, 0, 0, "too few"),
            new GateSegment("region=US", DriftDecision.InsufficientEvidence, 0, 0, "too few"),
        ]);

        Assert.True(result.Inconclusive);
        Assert.False(result.Pass);
    }

    [Fact]
    public void JudgedButNotYetWithinTolerance_IsInconclusive_AndNamesTheOpenSegment()
    {
        var result = DriftGate.Evaluate("v2", [
            new GateSegment("region=EU", DriftDecision.NoDrift, 2, 2, "ok"),
            new GateSegment("region=US", DriftDecision.NoDrift, 2, 1, "open", "recall of 'fraud' may have dropped by up to 0.040"),
        ]);

        Assert.True(result.Inconclusive);
        Assert.Contains("region=US", result.Reason, StringComparison.Ordinal);
        Assert.Contains("0.040", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryJudgedComparisonWithinTolerance_Passes_IgnoringUnjudgedSegments()
    {
        var result = DriftGate.Evaluate("v2", [
            new GateSegment("region=EU", DriftDecision.NoDrift, 2, 2, "ok"),
            new GateSegment("region=XX", DriftDecision.InsufficientEvidence, 0, 0, "too few"),
        ]);

        Assert.Equal(GateOutcome.Pass, result.Outcome);
    }

    [Fact]
    public void DriftOrAFairnessAlert_Fails_SevereNamedFirst()
    {
        var drift = DriftGate.Evaluate("v2", [
            new GateSegment("region=EU", DriftDecision.Drift, 2, 0, "eu drift"),
            new GateSegment("region=US", DriftDecision.Severe, 2, 0, "us severe"),
        ]);
        var fairness = DriftGate.Evaluate("v2", [new GateSegment("all", DriftDecision.NoDrift, 2, 2, "ok")], "fairness alert on region");

        Assert.Equal(GateOutcome.Fail, drift.Outcome);
        Assert.Contains("worst: region=US: us severe", drift.Reason, StringComparison.Ordinal);
        Assert.Equal(GateOutcome.Fail, fairness.Outcome);
    }
}
