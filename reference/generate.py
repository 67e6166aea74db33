#!/usr/bin/env python3
"""Writes the project's metrics oracle (tests/reference/metrics-cases.json) to standard output.

Every expected number is computed by scikit-learn or scipy, never by this script's own arithmetic, so the C#
implementation is checked against an independent reference. Label lists and random matrices come from NumPy
generators with fixed seeds, and floats are written with Python's shortest round-trip repr, so the output is
byte-for-byte the same on every run with the same library versions.

    sudo apt-get install -y python3-sklearn python3-scipy
    /usr/bin/python3 reference/generate.py > tests/reference/metrics-cases.json
"""

import json
import sys
import warnings

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    matthews_corrcoef,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
)

DEFINITIONS = {
    "counts": "counts[i][j] = number of predictions whose actual class is classes[i] and predicted class is classes[j]",
    "zeroDivision": "precision, recall or f1 whose denominator is 0 is 0; mcc whose denominator is 0 is 0",
    "balancedAccuracy": "mean recall over the classes that occur among actual labels",
    "smoothing": "alpha is added to every one of the K*K cells of both matrices, then each is normalised to sum to 1",
    "kl": "KL(P_live || Q_baseline) in nats on the smoothed distributions",
    "js": "Jensen-Shannon divergence in nats on the smoothed distributions (at most ln 2)",
    "g": "G-test of homogeneity on the 2 x m table of raw counts (live row, baseline row), cells empty in both dropped; "
    "df = m-1; pValue = chi-square survival function",
}


# ---------------------------------------------------------------------------------------------------------------
# Labelled cases: label lists drawn from a per-case seeded generator, then scored by scikit-learn.
# ---------------------------------------------------------------------------------------------------------------

def draw_labels(seed, classes, n, prior, confusion):
    """Actual labels from `prior`; each predicted label from the row of `confusion` for its actual class."""
    rng = np.random.default_rng(seed)
    k = len(classes)
    prior = np.asarray(prior, dtype=float)
    confusion = np.asarray(confusion, dtype=float)
    actual = rng.choice(k, size=n, p=prior / prior.sum())
    # One uniform draw per prediction, looked up in the cumulative row of its actual class.
    cumulative = np.cumsum(confusion / confusion.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(n)
    predicted = np.array([int(np.searchsorted(cumulative[a], x, side="right")) for a, x in zip(actual, u)])
    return [classes[i] for i in actual], [classes[i] for i in predicted]


def diagonal_confusion(k, correct):
    """Each class is predicted correctly with probability `correct`, otherwise uniformly as another class."""
    off = (1.0 - correct) / (k - 1)
    return [[correct if i == j else off for j in range(k)] for i in range(k)]


def labelled_cases():
    cases = []

    def add(name, classes, actual, predicted):
        cases.append((name, list(classes), list(actual), list(predicted)))

    # Fraud at about 2% prevalence: rare positives, high recall, many false alarms relative to the positives.
    classes = ["legit", "fraud"]
    add("binary-fraud-imbalanced", classes,
        *draw_labels(1401, classes, 5000, [0.98, 0.02], [[0.97, 0.03], [0.04, 0.96]]))

    classes = ["no", "yes"]
    add("binary-balanced", classes, *draw_labels(1402, classes, 400, [0.5, 0.5], [[0.76, 0.24], [0.22, 0.78]]))

    classes = ["cat", "dog", "bird"]
    add("three-class", classes, *draw_labels(
        1403, classes, 3000, [0.5, 0.3, 0.2], [[0.68, 0.17, 0.15], [0.15, 0.70, 0.15], [0.16, 0.17, 0.67]]))

    classes = [f"c{i}" for i in range(5)]
    add("five-class-weak", classes, *draw_labels(1404, classes, 10000, [1] * 5, diagonal_confusion(5, 0.55)))

    classes = [f"k{i:02d}" for i in range(20)]
    add("twenty-class", classes, *draw_labels(1405, classes, 20000, [1] * 20, diagonal_confusion(20, 0.9)))

    # Large K with a skewed prior: a long tail of rare classes, several of which never occur in 4000 predictions.
    classes = [f"m{i:03d}" for i in range(120)]
    prior = [1.0 / (i + 1) ** 1.6 for i in range(120)]
    add("large-k-long-tail", classes, *draw_labels(1406, classes, 4000, prior, diagonal_confusion(120, 0.8)))

    # Edge cases, fixed by hand so that each exercises exactly one zero-division or degenerate path.
    add("all-correct", ["a", "b", "c"], ["a", "b", "c", "c", "b", "a"], ["a", "b", "c", "c", "b", "a"])
    add("all-wrong", ["a", "b"], ["a", "a", "b", "b"], ["b", "b", "a", "a"])
    # Declared classes that neither occur nor are predicted: their precision, recall and F1 are 0 and count in macro.
    add("class-never-seen", ["a", "b", "c", "d"], ["a", "b", "b", "a", "b"], ["a", "b", "a", "a", "b"])
    # The positive class is never predicted: precision's denominator is 0 and MCC's denominator is 0.
    add("never-predicted-positive", ["neg", "pos"], ["neg", "pos", "pos", "neg", "neg"],
        ["neg", "neg", "neg", "neg", "neg"])
    # A class that is predicted but never actual: its recall is 0/0, and it is left out of balanced accuracy.
    add("predicted-never-actual", ["x", "y", "z"], ["x", "x", "y", "y", "x", "y", "x"],
        ["x", "z", "y", "z", "x", "y", "y"])
    return cases


def scored(name, classes, actual, predicted):
    labels = list(classes)
    with warnings.catch_warnings():
        # Zero-division and "y_pred contains classes not in y_true" are exactly what the edge cases exercise.
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        counts = confusion_matrix(actual, predicted, labels=labels)
        binary = multilabel_confusion_matrix(actual, predicted, labels=labels)
        precision, recall, f1, support = precision_recall_fscore_support(
            actual, predicted, labels=labels, average=None, zero_division=0)
        averages = {}
        for average in ("macro", "micro", "weighted"):
            p, r, f, _ = precision_recall_fscore_support(
                actual, predicted, labels=labels, average=average, zero_division=0)
            averages[average] = {"precision": number(p), "recall": number(r), "f1": number(f)}
        expected = {
            "counts": [[int(v) for v in row] for row in counts],
            "total": len(actual),
            "accuracy": number(accuracy_score(actual, predicted)),
            "balancedAccuracy": number(balanced_accuracy_score(actual, predicted)),
            "mcc": number(matthews_corrcoef(actual, predicted)),
            "cohenKappa": number(cohen_kappa_score(actual, predicted, labels=labels)),
        }

    per_class = {}
    for i, label in enumerate(labels):
        (tn, fp), (fn, tp) = binary[i]
        per_class[label] = {
            "tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn),
            "precision": number(precision[i]), "recall": number(recall[i]), "f1": number(f1[i]),
            "support": int(support[i]),
        }

    expected["perClass"] = per_class
    expected.update(averages)
    return {"name": name, "classes": labels, "actual": actual, "predicted": predicted, "expected": expected}


# ---------------------------------------------------------------------------------------------------------------
# Divergence cases: pairs of count matrices, compared by scipy.
# ---------------------------------------------------------------------------------------------------------------

# The fraud scenario used throughout the docs: holdout baseline with 92.5% recall at 4% prevalence.
FRAUD_BASELINE = [[9500, 100], [30, 370]]


def random_pair(rng, k, baseline_total, live_total, empty_fraction, shift):
    """A baseline drawn from a random distribution over the K*K cells (some cells impossible), and live drawn from
    that distribution moved a fraction `shift` towards another random one over the same possible cells."""
    possible = rng.random(k * k) >= empty_fraction
    base = rng.dirichlet(np.ones(k * k)) * possible
    other = rng.dirichlet(np.ones(k * k)) * possible
    base /= base.sum()
    moved = (1 - shift) * base + shift * other / other.sum()
    baseline = rng.multinomial(baseline_total, base).reshape(k, k)
    live = rng.multinomial(live_total, moved / moved.sum()).reshape(k, k)
    return [[int(v) for v in row] for row in baseline], [[int(v) for v in row] for row in live]


def divergence_cases():
    cases = [
        # Live has the baseline's shape at half the volume: nothing to detect.
        ("same-shape", 0.5, FRAUD_BASELINE, [[4760, 48], [14, 178]]),
        # Fraud recall falls from 0.925 to 0.725: small KL, overwhelming G-test.
        ("recall-drop-15pct", 0.5, FRAUD_BASELINE, [[4740, 60], [55, 145]]),
        # The baseline has empty off-diagonal cells that live fills: smoothing keeps KL finite.
        ("zero-cells", 0.5, [[100, 0], [0, 100]], [[90, 10], [5, 95]]),
        ("alpha-one", 1.0, FRAUD_BASELINE, [[4740, 60], [55, 145]]),
        # Only the diagonal is non-empty in both: two cells survive, so df = 1.
        ("diagonal-only", 0.5, [[50, 0], [0, 50]], [[40, 0], [0, 60]]),
        # Few predictions on both sides: a large p-value, far from the asymptotic extremes.
        ("small-counts", 0.5, [[6, 2], [1, 5]], [[5, 3], [2, 4]]),
    ]
    rng = np.random.default_rng(1410)
    random_cases = [
        # (name, K, baseline total, live total, fraction of impossible cells, shift of live towards another shape)
        ("random-4x4", 4, 4000, 3000, 0.1, 0.1),
        ("random-3x3-sparse", 3, 1500, 1200, 0.4, 0.5),
        # G is so large that p underflows to 0 in double precision; 0 is compared with an absolute tolerance.
        ("random-5x5-sparse", 5, 8000, 8000, 0.3, 0.9),
        # Large K with mostly empty cells: many columns are dropped from the G-test and smoothing dominates KL.
        ("random-12x12-sparse", 12, 2000, 800, 0.8, 0.05),
    ]
    for name, k, baseline_total, live_total, empty_fraction, shift in random_cases:
        baseline, live = random_pair(rng, k, baseline_total, live_total, empty_fraction, shift)
        cases.append((name, 0.5, baseline, live))
    return [compared(*c) for c in cases]


def compared(name, alpha, baseline, live):
    b = np.asarray(baseline, dtype=float).ravel()
    l = np.asarray(live, dtype=float).ravel()
    p = (l + alpha) / (l + alpha).sum()
    q = (b + alpha) / (b + alpha).sum()
    m = (p + q) / 2
    kl = scipy.stats.entropy(p, q)
    js = 0.5 * scipy.stats.entropy(p, m) + 0.5 * scipy.stats.entropy(q, m)

    keep = (l + b) > 0
    table = np.vstack([l[keep], b[keep]])
    g, p_value, df, _ = scipy.stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return {
        "name": name,
        "alpha": alpha,
        "baseline": baseline,
        "live": live,
        "expected": {"kl": number(kl), "js": number(js), "g": number(g), "df": int(df), "pValue": number(p_value)},
    }


def number(value):
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"non-finite value {value} in the oracle")
    return value


def main():
    document = {
        "generatedBy": f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}"
                       " (reference/generate.py)",
        "definitions": DEFINITIONS,
        "cases": [scored(*c) for c in labelled_cases()],
        "divergence": divergence_cases(),
    }
    json.dump(document, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
