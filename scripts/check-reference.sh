#!/usr/bin/env bash
# Regenerates the metrics oracle with reference/generate.py and fails if it differs from the committed
# tests/reference/metrics-cases.json. Needs scikit-learn and scipy from Debian (installed here if missing);
# the test suite itself only reads the committed file and never needs them.
set -euo pipefail
cd "$(dirname "$0")/.."

python=/usr/bin/python3
if ! "$python" -c 'import sklearn, scipy' >/dev/null 2>&1; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing python3-sklearn python3-scipy with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-sklearn python3-scipy >/dev/null
fi

generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
"$python" reference/generate.py > "$generated"
if cmp -s "$generated" tests/reference/metrics-cases.json; then
  echo "tests/reference/metrics-cases.json matches reference/generate.py ($("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["generatedBy"])' "$generated"))"
else
  echo "tests/reference/metrics-cases.json differs from what reference/generate.py writes:"
  diff <("$python" -m json.tool tests/reference/metrics-cases.json) <("$python" -m json.tool "$generated") | head -n 40 || true
  echo "regenerate with: $python reference/generate.py > tests/reference/metrics-cases.json"
  exit 1
fi
