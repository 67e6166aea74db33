#!/usr/bin/python3
"""Peers on the same prediction file as the C# kernel: scikit-learn's confusion_matrix and a plain
dict-of-dicts aggregator (the seed's shape: matrix[actual][predicted] += 1 in a loop).

File format (written by `ConfusionMatrix.Bench peers`): little-endian int32 header [n, k], then n int32 actual
labels, then n int32 predicted labels. Prints one JSON line with the median rates (predictions/s).
Only the counting is timed: loading the file and turning arrays into Python lists are not."""
import json
import statistics
import sys
import time

import numpy as np


def main():
    path, runs = sys.argv[1], int(sys.argv[2])
    raw = np.fromfile(path, dtype="<i4")
    n, k = int(raw[0]), int(raw[1])
    actual = raw[2:2 + n]
    predicted = raw[2 + n:2 + 2 * n]

    from sklearn.metrics import confusion_matrix
    import sklearn

    labels = list(range(k))
    sk_rates = []
    sk_total = None
    for _ in range(runs):
        t = time.perf_counter()
        cm = confusion_matrix(actual, predicted, labels=labels)
        sk_rates.append(n / (time.perf_counter() - t))
        sk_total = int(cm.sum())

    a_list = actual.tolist()
    p_list = predicted.tolist()
    dict_rates = []
    dict_total = None
    for _ in range(runs):
        t = time.perf_counter()
        matrix = {a: {p: 0 for p in labels} for a in labels}
        for a, p in zip(a_list, p_list):
            matrix[a][p] += 1
        dict_rates.append(n / (time.perf_counter() - t))
        dict_total = sum(sum(row.values()) for row in matrix.values())

    print(json.dumps({
        "n": n, "k": k,
        "sklearn_version": sklearn.__version__,
        "sklearn_pps": statistics.median(sk_rates), "sklearn_runs": sk_rates, "sklearn_total": sk_total,
        "pydict_pps": statistics.median(dict_rates), "pydict_runs": dict_rates, "pydict_total": dict_total,
    }))


if __name__ == "__main__":
    main()
