#!/usr/bin/env bash
# Benchmark suite of ConfusionMatrix.Actors: builds bench/ConfusionMatrix.Bench in Release and runs every part.
#   ./bench/run.sh           full run (a few minutes)
#   ./bench/run.sh --quick   smoke run (about a minute after the build)
#   ./bench/run.sh drift     only the drift-decision simulation (about 3 minutes; add --quick for 200 runs per row)
#   ./bench/run.sh http      only HTTP NDJSON intake against the Python peer (about a minute)
#   ./bench/run.sh e2e       only part 2 (stream, latency, memory per grain, durable on Azurite; about 4 minutes)
# AZURITE_JS, when set, names an installed azurite.js to use instead of installing one into bench/.tools.
# Prints one table per part; the LAST line is machine-readable: `summary: key=value ...`.
# Results (JSON per part, BenchmarkDotNet log, build log) go to bench/results/latest/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
QUICK=""
ONLY=""
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK="--quick" ;;
    drift) ONLY="drift" ;;
    http) ONLY="http" ;;
    e2e) ONLY="e2e" ;;
    *) echo "usage: $0 [drift|http|e2e] [--quick]" >&2; exit 2 ;;
  esac
done

RES="$HERE/results/latest"
if [ -n "$ONLY" ]; then RES="$HERE/results/$ONLY"; fi   # a single part leaves the full run's results alone
rm -rf "$RES"
mkdir -p "$RES" "$HERE/.tools"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

echo "== build (Release) =="
if ! dotnet build "$HERE/ConfusionMatrix.Bench/ConfusionMatrix.Bench.csproj" -c Release -nologo -v q > "$RES/build.log" 2>&1; then
  tail -n 40 "$RES/build.log" >&2
  exit 1
fi
BIN="$HERE/ConfusionMatrix.Bench/bin/Release/net10.0/ConfusionMatrix.Bench"
if [ "$ONLY" = "drift" ]; then
  "$BIN" drift $QUICK --results "$RES"
  exit 0
fi
if [ "$ONLY" = "http" ]; then
  "$BIN" http $QUICK --python /usr/bin/python3 --peers-script "$HERE/peers_ndjson.py" --results "$RES"
  exit 0
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Peers: Debian's python3 with scikit-learn (not a pyenv shim, which would not see Debian's packages).
PY=/usr/bin/python3
if [ "$ONLY" != "e2e" ] && ! "$PY" -c "import sklearn, numpy" > /dev/null 2>&1; then
  echo "== installing python3-sklearn (apt-get) =="
  as_root apt-get update -qq > "$RES/apt.log" 2>&1
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-sklearn python3-numpy >> "$RES/apt.log" 2>&1
fi

# Durable path: Azurite (npm azurite@3.37.0, installed under bench/.tools, gitignored) on free ports.
AZURITE="${AZURITE_JS:-$HERE/.tools/node_modules/azurite/dist/src/azurite.js}"
if [ ! -f "$AZURITE" ]; then
  echo "== installing azurite@3.37.0 into bench/.tools (npm) =="
  npm install --prefix "$HERE/.tools" --no-audit --no-fund --silent azurite@3.37.0 > "$RES/npm.log" 2>&1
fi

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
AZ_PID=""
AZ_DIR="$(mktemp -d)"
cleanup() {
  if [ -n "$AZ_PID" ] && kill -0 "$AZ_PID" 2> /dev/null; then
    kill -TERM "$AZ_PID" 2> /dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$AZ_PID" 2> /dev/null || break; sleep 0.2; done
    kill -KILL "$AZ_PID" 2> /dev/null || true   # Azurite may ignore SIGTERM for 30 s or more
    wait "$AZ_PID" 2> /dev/null || true
  fi
  rm -rf "$AZ_DIR"
}
trap cleanup EXIT

P_BLOB=$(free_port); P_QUEUE=$(free_port); P_TABLE=$(free_port)
node "$AZURITE" --silent --location "$AZ_DIR" --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
  --blobPort "$P_BLOB" --queuePort "$P_QUEUE" --tablePort "$P_TABLE" --skipApiVersionCheck > "$RES/azurite.log" 2>&1 &
AZ_PID=$!
for _ in $(seq 1 100); do
  if "$PY" -c "import socket,sys; [socket.create_connection(('127.0.0.1',p),0.2).close() for p in ($P_BLOB,$P_QUEUE,$P_TABLE)]" 2> /dev/null; then break; fi
  sleep 0.1
done
# Azurite's well-known devstoreaccount1 key (the one Azurite 3.37.0 ships in dist/src/common/utils/constants.js).
AZURE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$P_BLOB/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$P_QUEUE/devstoreaccount1;TableEndpoint=http://127.0.0.1:$P_TABLE/devstoreaccount1;"

run_part() {
  local started=$SECONDS
  "$BIN" "$@" $QUICK --results "$RES"
  echo "(part '$1' took $((SECONDS - started)) s)"
}

if [ "$ONLY" = "e2e" ]; then
  run_part e2e --azure "$AZURE"
  cleanup
  AZ_PID=""
  "$BIN" summary --results "$RES"
  exit 0
fi

run_part kernel
run_part peers --python "$PY" --peers-script "$HERE/peers.py"
run_part e2e --azure "$AZURE"
run_part labels
run_part cluster --azure "$AZURE"
run_part largek
run_part drift
echo "== build cmx (Release) =="
dotnet build "$HERE/../src/ConfusionMatrix.Cli/ConfusionMatrix.Cli.csproj" -c Release -nologo -v q >> "$RES/build.log" 2>&1
run_part cli --python "$PY" --peers-script "$HERE/peers_ndjson.py" --cmx "$HERE/../src/ConfusionMatrix.Cli/bin/Release/net10.0/cmx.dll"
cleanup
AZ_PID=""
"$BIN" summary --results "$RES"
