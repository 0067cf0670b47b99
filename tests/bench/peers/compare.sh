#!/usr/bin/env bash
# Baton against BullMQ and Celery on the same box and the same Redis: closed loop
# (CLIENTS in flight) and burst (BURST jobs, then the workers drain them), ROUNDS
# interleaved rounds, medians and ratios printed as a markdown table.
#
#   tests/bench/peers/compare.sh                  # 3 rounds, 20,000 jobs each
#   JOBS=1000 BURST=2000 ROUNDS=1 tests/bench/peers/compare.sh   # a smoke run
#
# Environment (defaults in brackets):
#   ROUNDS [3]  JOBS [20000] closed-loop jobs (after a warm-up of a tenth)
#   BURST [20000] burst jobs   CLIENTS [20]   BATCH [500] jobs per bulk creation
#   BATON_BENCH [$CARGO_TARGET_DIR or target/release/baton-bench, else
#               /var/tmp/baton-bench-target/release/baton-bench]
#   BATON_BIN   [the same folders' baton]
#   BATON_THREADS [1] orchestrator runtime threads   BATON_WORKERS [2] echo workers
#   BATON_WORKER_CONCURRENCY [32]
#   BULLMQ_CONCURRENCY [64] (one Worker, its own process)
#   CELERY_CONCURRENCY [32] (one `celery worker --pool threads`)
#   CELERY_BURST [1] 0 skips Celery's burst (its drain is the slowest part of a round)
#   PEERS_DIR [${TMPDIR:-/tmp}/baton-peers] throwaway npm project, venv, run logs
#   REDIS_SERVER [redis-server]  PEERS_ONLY [unset] comma list of baton,bullmq,celery
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)

ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-20000}
BURST=${BURST:-20000}
CLIENTS=${CLIENTS:-20}
BATCH=${BATCH:-500}
BATON_THREADS=${BATON_THREADS:-1}
BATON_WORKERS=${BATON_WORKERS:-2}
BATON_WORKER_CONCURRENCY=${BATON_WORKER_CONCURRENCY:-32}
BULLMQ_CONCURRENCY=${BULLMQ_CONCURRENCY:-64}
CELERY_CONCURRENCY=${CELERY_CONCURRENCY:-32}
CELERY_BURST=${CELERY_BURST:-1}
PEERS_DIR=${PEERS_DIR:-${TMPDIR:-/tmp}/baton-peers}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
PEERS_ONLY=${PEERS_ONLY:-baton,bullmq,celery}

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
want() { [[ ",$PEERS_ONLY," == *",$1,"* ]]; }

# --- tools -----------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed ($2)"; }
need python3 "the Celery side and the summary need Python 3.8 or newer"
need "$REDIS_SERVER" "install Redis (e.g. apt-get install redis-server)"
need redis-cli "install Redis's tools (e.g. apt-get install redis-tools)"
if want bullmq; then
  need node "the BullMQ side needs Node.js 18 or newer"
  need npm "the BullMQ side installs bullmq with npm"
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  (( node_major >= 18 )) || die "Node.js $(node --version) is too old: BullMQ 5 needs 18 or newer"
fi
if want celery; then
  python3 -c 'import venv, ensurepip' 2>/dev/null ||
    die "python3 cannot create a venv with pip (on Debian/Ubuntu: apt-get install python3-venv)"
fi

pick() { # first existing file among the arguments
  for f in "$@"; do [[ -x "$f" ]] && { echo "$f"; return; }; done
  echo "$1"
}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
BATON_BENCH=${BATON_BENCH:-$(pick "$TARGET/release/baton-bench" /var/tmp/baton-bench-target/release/baton-bench)}
BATON_BIN=${BATON_BIN:-$(pick "$TARGET/release/baton" /var/tmp/baton-bench-target/release/baton)}
if want baton; then
  [[ -x "$BATON_BENCH" ]] || die "no baton-bench at $BATON_BENCH (cargo build --release -p baton-bench, or set BATON_BENCH)"
  [[ -x "$BATON_BIN" ]] || die "no baton binary at $BATON_BIN (cargo build --release, or set BATON_BIN)"
fi

# --- throwaway dependencies ---------------------------------------------------------
mkdir -p "$PEERS_DIR"
NODE_DIR=$PEERS_DIR/bullmq
VENV=$PEERS_DIR/venv
if want bullmq; then
  mkdir -p "$NODE_DIR"
  if [[ ! -d $NODE_DIR/node_modules/bullmq ]] || ! cmp -s "$HERE/bullmq/package-lock.json" "$NODE_DIR/package-lock.json"; then
    log "installing BullMQ into $NODE_DIR (npm ci)"
    cp "$HERE/bullmq/package.json" "$HERE/bullmq/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $NODE_DIR"
  fi
  # ESM resolves packages next to the script: the scripts run from the throwaway copy.
  cp "$HERE"/bullmq/*.mjs "$NODE_DIR/"
fi
if want celery; then
  if [[ ! -x $VENV/bin/python ]] || ! cmp -s "$HERE/celery/requirements.txt" "$VENV/requirements.txt"; then
    log "installing Celery into $VENV (venv + pip)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/celery/requirements.txt" >&2 ||
      die "pip install failed in $VENV"
    cp "$HERE/celery/requirements.txt" "$VENV/requirements.txt"
  fi
fi

# --- one throwaway Redis ----------------------------------------------------------
RUN=$PEERS_DIR/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REDIS_URL=redis://127.0.0.1:$PORT
"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$RUN" --logfile "$RUN/redis.log" --daemonize no &
REDIS_PID=$!
cleanup() {
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq 100); do
  redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$PORT" ping >/dev/null 2>&1 || die "redis-server did not start (see $RUN/redis.log)"
log "Redis on port $PORT; logs and raw results in $RUN"

export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the work tree from the Celery scripts
RESULTS=$RUN/results.jsonl
: >"$RESULTS"
FAILED=0

# Runs one measurement: flushes Redis, runs the command, appends the JSON lines it prints
# on stdout (one object each) to the results with the round number.
measure() { # name round command...
  local name=$1 round=$2
  shift 2
  redis-cli -p "$PORT" flushall >/dev/null
  log "round $round: $name"
  local out=$RUN/$name-r$round.out
  if timeout 1200 "$@" >"$out" 2>"$RUN/$name-r$round.err" && grep -q '^{' "$out"; then
    grep '^{' "$out" | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    d["round"] = int(sys.argv[1])
    print(json.dumps(d))' "$round" >>"$RESULTS"
  else
    log "round $round: $name FAILED (see $RUN/$name-r$round.err)"
    FAILED=1
  fi
}

run_baton() { # round
  # baton-bench prints its own table (kept in the .err file) and writes JSON; the two
  # figures lines are read back from that JSON.
  export BATON_JSON=$RUN/baton-r$1.json
  measure baton "$1" bash -c '
    "$@" >&2 || exit 1
    python3 - "$BATON_JSON" <<"PY"
import json, sys
r = json.load(open(sys.argv[1]))["results"]["redis"]
c = next(iter(r["closed_loop"].values()))[0]
b = r["burst"][0]
print(json.dumps({"peer": "baton", "scenario": "closed_loop", "jobs": c["jobs"],
    "jobs_per_sec": c["jobs_per_sec"], "p50_ms": c["latency"]["p50_ms"], "p99_ms": c["latency"]["p99_ms"]}))
print(json.dumps({"peer": "baton", "scenario": "burst", "jobs": b["jobs"], "submit_per_sec": b["submit_per_sec"],
    "drain_per_sec": b["drain_per_sec"], "end_to_end_seconds": b["end_to_end_seconds"]}))
PY
  ' _ "$BATON_BENCH" closed-loop burst --store redis --runs 1 --clients "$CLIENTS" \
    --orchestrator-threads "$BATON_THREADS" --workers "$BATON_WORKERS" \
    --worker-concurrency "$BATON_WORKER_CONCURRENCY" --jobs "$JOBS" --burst-jobs "$BURST" \
    --burst-batch "$BATCH" --redis-url "$REDIS_URL" --baton "$BATON_BIN" --json "$BATON_JSON"
}

run_bullmq() { # round
  measure bullmq-closed-loop "$1" node "$NODE_DIR/closed_loop.mjs" --redis-url "$REDIS_URL" \
    --jobs "$JOBS" --clients "$CLIENTS" --concurrency "$BULLMQ_CONCURRENCY"
  measure bullmq-burst "$1" node "$NODE_DIR/burst.mjs" --redis-url "$REDIS_URL" \
    --jobs "$BURST" --batch "$BATCH" --submitters 20 --concurrency "$BULLMQ_CONCURRENCY"
}

run_celery() { # round
  measure celery-closed-loop "$1" "$VENV/bin/python" "$HERE/celery/closed_loop.py" \
    --redis-url "$REDIS_URL/0" --jobs "$JOBS" --clients "$CLIENTS" --concurrency "$CELERY_CONCURRENCY"
  if [[ $CELERY_BURST != 0 ]]; then
    measure celery-burst "$1" "$VENV/bin/python" "$HERE/celery/burst.py" \
      --redis-url "$REDIS_URL/0" --jobs "$BURST" --batch "$BATCH" --concurrency "$CELERY_CONCURRENCY"
  fi
}

ORDER=()
for p in baton bullmq celery; do want "$p" && ORDER+=("$p"); done
((${#ORDER[@]} > 0)) || die "PEERS_ONLY names none of baton, bullmq, celery"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
  # Interleaved, and the first system of a round rotates, so no one always runs first.
  n=${#ORDER[@]}
  for ((i = 0; i < n; i++)); do
    p=${ORDER[$(((i + round - 1) % n))]}
    "run_$p" "$round"
  done
done

# --- the table ----------------------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
machine="$(nproc) cores, ${cpu:-unknown CPU}; $("$REDIS_SERVER" --version | grep -o 'v=[^ ]*' | sed 's/v=/Redis /')"
machine+="; load average before: $LOAD_BEFORE"
want bullmq && machine+="; Node $(node --version), bullmq $(node -p "require('$NODE_DIR/node_modules/bullmq/package.json').version")"
want celery && machine+="; $("$VENV/bin/python" --version), celery $("$VENV/bin/python" -c 'import celery; print(celery.__version__)')"
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
settings="Baton ($BATON_BIN, tree at $rev): orchestrator BATON_WORKER_THREADS=$BATON_THREADS, $BATON_WORKERS echo workers × $BATON_WORKER_CONCURRENCY; "
settings+="BullMQ: one Worker process, concurrency $BULLMQ_CONCURRENCY; Celery: one worker, --pool threads, concurrency $CELERY_CONCURRENCY; "
settings+="closed loop $CLIENTS clients × $JOBS jobs, burst $BURST jobs in batches of $BATCH"
[[ $CELERY_BURST != 0 ]] || settings+=" (Celery's burst skipped: CELERY_BURST=0)"
python3 "$HERE/summarize.py" "$RESULTS" --rounds "$ROUNDS" --burst "$BURST" --clients "$CLIENTS" \
  --machine "$machine" --settings "$settings" | tee "$RUN/table.md"
[[ $FAILED == 0 ]] || die "some runs failed: see the .err files in $RUN"
