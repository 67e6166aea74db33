#!/usr/bin/python3
"""Peer of `cmx evaluate` on the same NDJSON prediction file: json.loads per line and a dict-of-dicts matrix for
"all" and for each value of the given segment dimensions. Reads the whole file (timed, like cmx). Prints one JSON
line: records, records/s and the total counted in "all"."""
import json
import sys
import time


def main():
    path, dims = sys.argv[1], sys.argv[2].split(",")
    t = time.perf_counter()
    matrices = {}
    n = 0
    with open(path, "rb") as f:
        for line in f:
            r = json.loads(line)
            n += 1
            a, p = r["actual"], r["predicted"]
            keys = ["all"] + [d + "=" + r["segments"][d] for d in dims if d in r.get("segments", {})]
            for key in keys:
                m = matrices.setdefault(key, {})
                row = m.setdefault(a, {})
                row[p] = row.get(p, 0) + 1
    seconds = time.perf_counter() - t
    total = sum(sum(row.values()) for row in matrices["all"].values())
    print(json.dumps({"n": n, "rps": n / seconds, "seconds": seconds, "total": total}))


if __name__ == "__main__":
    main()
