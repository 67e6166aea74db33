#!/usr/bin/env bash
# Operations checks that need no cluster: the PrometheusRule rendered from the chart (promtool check rules and
# promtool test rules on tests/prometheus/*.yaml) and the Grafana dashboard type-checked against @grafana/schema.
#
#   scripts/ops-check.sh                 # installs what is missing, then runs the checks
#   scripts/ops-check.sh --install-only  # scripts/test.sh: promtool (Debian package prometheus) and the npm tools
#
# The npm tools (pinned) go to .tools/ops: @grafana/schema and typescript for the dashboard check, playwright-core for
# the operator page test in tests/ConfusionMatrix.Silo.Tests (OperatorPageTests), which drives /usr/bin/chromium.
# Prints one closing line "N passed, N failed" and exits non-zero if anything failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$REPO/helm/confusionmatrix-actors"
OPS="$REPO/.tools/ops"
NPM_PACKAGES=(@grafana/schema@13.2.3 typescript@5.9.3 playwright-core@1.65.1 yaml@2.9.1)

if ! command -v promtool >/dev/null 2>&1; then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "ops-check: installing promtool (Debian package prometheus) with apt-get" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if [[ ! -f "$OPS/node_modules/playwright-core/package.json" || ! -f "$OPS/node_modules/@grafana/schema/package.json" \
      || ! -x "$OPS/node_modules/.bin/tsc" || ! -d "$OPS/node_modules/yaml" ]]; then
  echo "ops-check: installing ${NPM_PACKAGES[*]} into $OPS" >&2
  mkdir -p "$OPS"
  npm install --prefix "$OPS" --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >/dev/null
fi
if [[ "${1:-}" == "--install-only" ]]; then
  exit 0
fi

# Helm renders the rules; scripts/helm-check.sh installs it.
HELM="${HELM:-$REPO/.tools/helm/helm}"
[[ -x "$HELM" ]] || bash "$REPO/scripts/helm-check.sh" --install-only >/dev/null

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf '  FAIL  %s\n' "$1"; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# PrometheusRule: render with the release the tests expect (release cm, namespace ml), keep .spec as a rules file
# ---------------------------------------------------------------------------------------------
echo "-- prometheus rules ($(promtool --version 2>&1 | head -n 1))"
if "$HELM" template cm "$CHART" --namespace ml --show-only templates/prometheusrule.yaml \
     --set image.repository=registry.example.com/confusionmatrix-actors \
     --set clustering.provider=Localhost,storage.provider=Memory,streams.provider=Memory,replicaCount=1 \
     --set metrics.prometheusRule.enabled=true > "$WORK/prometheusrule.yaml" 2> "$WORK/helm.err"; then
  pass "helm renders the PrometheusRule"
else
  fail "helm renders the PrometheusRule"; sed 's/^/        /' "$WORK/helm.err" | head -10
fi
# The rule file promtool reads is the PrometheusRule's spec: {groups: [...]}.
if node -e '
  const YAML = require(process.argv[1]);
  const fs = require("fs");
  const doc = YAML.parse(fs.readFileSync(process.argv[2], "utf8"));
  if (!doc || doc.kind !== "PrometheusRule" || !doc.spec || !Array.isArray(doc.spec.groups)) { console.error("no PrometheusRule with spec.groups"); process.exit(1); }
  fs.writeFileSync(process.argv[3], YAML.stringify({ groups: doc.spec.groups }));
' "$OPS/node_modules/yaml" "$WORK/prometheusrule.yaml" "$WORK/confusionmatrix-rules.yaml" 2> "$WORK/extract.err"; then
  pass "rule groups extracted from the PrometheusRule"
else
  fail "rule groups extracted from the PrometheusRule"; sed 's/^/        /' "$WORK/extract.err"
fi
if out="$(promtool check rules "$WORK/confusionmatrix-rules.yaml" 2>&1)"; then
  pass "promtool check rules ($(grep -Eo 'SUCCESS: [0-9]+ rules found' <<<"$out" || echo "$out" | tail -n 1))"
else
  fail "promtool check rules"; sed 's/^/        /' <<<"$out"
fi
for test_file in "$REPO"/tests/prometheus/*.yaml; do
  # The test files name the rules file relative to themselves: run them next to a copy of the rendered rules.
  cp "$test_file" "$WORK/"
  if out="$(cd "$WORK" && promtool test rules "$(basename "$test_file")" 2>&1)"; then
    pass "promtool test rules $(basename "$test_file")"
  else
    fail "promtool test rules $(basename "$test_file")"; sed 's/^/        /' <<<"$out" | head -60
  fi
done

# ---------------------------------------------------------------------------------------------
# Grafana dashboard: the JSON must be a Dashboard of @grafana/schema (tsc --noEmit, resolveJsonModule)
# ---------------------------------------------------------------------------------------------
echo "-- grafana dashboard (@grafana/schema $(node -p 'require(process.argv[1]).version' "$OPS/node_modules/@grafana/schema/package.json"))"
check_dashboard() {  # check_dashboard JSON-FILE: 0 when the file type-checks as a Dashboard
  local dir="$WORK/dashboard-$RANDOM"
  mkdir -p "$dir"
  cp "$1" "$dir/dashboard.json"
  # check.ts imports the JSON module and also holds the same document as an object literal: a fresh literal gets
  # TypeScript's excess-property check (a misspelt field fails) and keeps its string values for the schema's unions.
  node -e '
    const fs = require("fs");
    const json = fs.readFileSync(process.argv[1], "utf8");
    JSON.parse(json);
    fs.writeFileSync(process.argv[2], [
      "import type { Dashboard } from \"@grafana/schema\";",
      "import imported from \"./dashboard.json\";",
      "",
      "// JSON has no enums: where the schema has a string enum the file holds its value (\"absolute\", not ThresholdsMode.Absolute).",
      "type Json<T> = T extends string ? `${T}`",
      "  : T extends number | boolean | null | undefined ? T",
      "  : T extends ReadonlyArray<infer U> ? Array<Json<U>>",
      "  : T extends object ? { [K in keyof T]: Json<T[K]> }",
      "  : T;",
      "",
      "const literal = " + json.trim() + " satisfies Json<Dashboard>;",
      "export const dashboard: typeof imported = literal;",
      "",
    ].join("\n"));
  ' "$dir/dashboard.json" "$dir/check.ts" || return 1
  cat > "$dir/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "resolveJsonModule": true, "esModuleInterop": true,
    "module": "commonjs", "moduleResolution": "node10", "target": "es2022", "skipLibCheck": true,
    "ignoreDeprecations": "5.0", "types": [], "baseUrl": ".",
    "paths": { "@grafana/schema": ["$OPS/node_modules/@grafana/schema/dist/types/index.d.ts"] }
  },
  "files": ["check.ts"]
}
JSON
  (cd "$dir" && "$OPS/node_modules/.bin/tsc" -p tsconfig.json)
}
dashboard="$REPO/dashboards/confusionmatrix.json"
if out="$(check_dashboard "$dashboard" 2>&1)"; then
  pass "dashboards/confusionmatrix.json is a @grafana/schema Dashboard (tsc --noEmit)"
else
  fail "dashboards/confusionmatrix.json is a @grafana/schema Dashboard (tsc --noEmit)"; sed 's/^/        /' <<<"$out" | head -40
fi
# The check must be able to fail: a panel with a wrong type for gridPos.h.
node -e '
  const fs = require("fs"); const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  d.panels[0].gridPos.h = "eight"; fs.writeFileSync(process.argv[2], JSON.stringify(d));
' "$dashboard" "$WORK/broken.json"
if check_dashboard "$WORK/broken.json" >/dev/null 2>&1; then
  fail "a dashboard with gridPos.h \"eight\" is refused"
else
  pass "a dashboard with gridPos.h \"eight\" is refused"
fi
node -e '
  const fs = require("fs"); const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  d.pannels = d.panels; delete d.panels; fs.writeFileSync(process.argv[2], JSON.stringify(d));
' "$dashboard" "$WORK/misspelt.json"
if check_dashboard "$WORK/misspelt.json" >/dev/null 2>&1; then
  fail "a dashboard with a misspelt property (pannels) is refused"
else
  pass "a dashboard with a misspelt property (pannels) is refused"
fi

# Every query of the dashboard is valid PromQL: promtool parses them as recording rules, with Grafana's variables
# replaced by what they expand to.
node -e '
  const fs = require("fs");
  const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const exprs = [];
  const walk = (panels) => { for (const p of panels ?? []) { for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr); walk(p.panels); } };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) { const q = typeof v.query === "string" ? v.query : v.query?.query; const m = /^label_values\((.*), *[a-z_]+\)$/.exec(q ?? ""); if (m) exprs.push(m[1]); }
  const expand = (e) => e.replaceAll("$__rate_interval", "5m").replaceAll("$__range", "1h").replace(/\$(namespace|model|version|segment)/g, ".*");
  const rules = exprs.map((e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expand(e))}`).join("\n");
  fs.writeFileSync(process.argv[2], `groups:\n  - name: dashboard-queries\n    rules:\n${rules}\n`);
  console.log(exprs.length);
' "$dashboard" "$WORK/dashboard-queries.yaml" > "$WORK/query-count" 2>&1 || true
if out="$(promtool check rules "$WORK/dashboard-queries.yaml" 2>&1)"; then
  pass "the dashboard's $(cat "$WORK/query-count") queries are valid PromQL (promtool check rules)"
else
  fail "the dashboard's queries are valid PromQL (promtool check rules)"; sed 's/^/        /' <<<"$out" | head -20
fi

# Every confusionmatrix_* series the dashboard and the rules read must come from an instrument in src/ (OpenTelemetry's
# Prometheus exporter: dots become underscores, counters get _total, histograms in seconds _seconds_bucket|_count|_sum).
instruments="$(grep -rhoE '"confusionmatrix\.[a-z_.]+"' "$REPO/src" --include='*.cs' | tr -d '"' | tr '.' '_' | sort -u)"
unknown=""
for series in $(cat "$dashboard" "$WORK/confusionmatrix-rules.yaml" | grep -oE 'confusionmatrix_[a-z_]+' | sort -u); do
  known=""
  for instrument in $instruments; do
    case "${series#"$instrument"}" in
      "" | _total | _seconds | _seconds_bucket | _seconds_count | _seconds_sum) [[ "$series" == "$instrument"* ]] && known=yes ;;
    esac
  done
  [[ -n "$known" ]] || unknown="$unknown $series"
done
if [[ -z "$unknown" ]]; then
  pass "every confusionmatrix_* series in the dashboard and the rules is exported by an instrument in src/"
else
  fail "series no instrument in src/ exports:$unknown"
fi

echo
echo "ops-check: $PASSED passed, $FAILED failed"
((FAILED == 0))
