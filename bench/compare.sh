#!/usr/bin/env bash
# Runs the reference process on rathaus, SpiffWorkflow (PyPI) and bpmn-engine (npm) on this
# machine, one after the other, and prints their JSON reports. The other engines are
# installed into a temporary folder from their registries (not vendored); their models are
# bench/spiff_model.* and bench/bpmn_engine_model.bpmn, translations of
# crates/runtime/bench/ into the dialect each engine reads.
#
#   bench/compare.sh [instances] [postgres-url]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
PG="${2:-}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cargo build --release -q -p rathaus
echo "== rathaus (SQLite, 1 client)"
./target/release/rathaus bench engine --data-dir "$WORK/data" --instances "$N" --concurrency 1
if [ -n "$PG" ]; then
  echo "== rathaus (PostgreSQL, 1 client)"
  ./target/release/rathaus bench engine --data-dir "$WORK/data" --database-url "$PG" --instances "$N" --concurrency 1
fi

echo "== SpiffWorkflow"
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q SpiffWorkflow
"$WORK/venv/bin/python" -c 'import importlib.metadata as m; print("SpiffWorkflow", m.version("SpiffWorkflow"))'
"$WORK/venv/bin/python" bench/spiff_bench.py "$N"

echo "== bpmn-engine"
mkdir -p "$WORK/node"
cp bench/bpmn_engine_bench.cjs bench/bpmn_engine_model.bpmn "$WORK/node/"
(cd "$WORK/node" && npm init -y >/dev/null && npm install -s bpmn-engine >/dev/null && node -e 'console.log("bpmn-engine", require("fs").readFileSync("node_modules/bpmn-engine/package.json","utf8").match(/"version": "([^"]+)"/)[1])' && node bpmn_engine_bench.cjs "$N")
