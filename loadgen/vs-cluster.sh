#!/usr/bin/env bash
# vs-cluster.sh: a three-node cluster (durable PostgreSQL, objects in a local
# directory) side by side with an embedded node (`--fsync always`), both
# driven by `sluice bench`, rounds interleaved so that both see the same
# machine: the measurement of docs/cluster.md ("Produce and consume through
# the nodes, measured") and of issue 16's goals.
#
# It starts a throwaway PostgreSQL (initdb and pg_ctl from PG_BIN, as the
# user "postgres" when run as root), three `sluice serve --objects` nodes and
# one embedded `sluice serve`, all on 127.0.0.1. First, each round reads a
# topic that node a wrote back through node b from its read cache (BACKLOG
# records of 1 KiB, fitting the default 256 MiB cache; a first pass fills
# it), against the embedded node. Then each round runs
#   1. `sluice bench produce` through node a (the defaults: one producer, 16
#      requests of 64 records of 1 KiB in flight, 8 partitions), with the
#      PostgreSQL commits/s and the nodes' objects/s over the run;
#   2. the same against the embedded node.
# It prints each run's summary and each round's ratio. Before each produce
# run it writes back the dirty pages of the runs before (`sync`): the
# embedded node leaves up to a journal file's worth (64 MiB) of segment
# bytes in the page cache, which the kernel would write out 30 s later, in
# the middle of the next cluster run, stalling every sync on the disk that
# run makes (one such burst: 74 MB in a second, and an ack p99 of 148 ms
# for that second). Each side is measured without the other's debt.
#
# Usage: loadgen/vs-cluster.sh [ROUNDS]     (default 3)
# Environment: SLUICE (default: built from this checkout), PG_BIN
#   (/usr/lib/postgresql/15/bin), PORT_BASE (15430: PostgreSQL there, the
#   nodes' HTTP ports after it), DURATION (10s), BACKLOG (200000), WINDOW
#   (the nodes' --shared-window; default theirs).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
base=${PORT_BASE:-15430}
duration=${DURATION:-10s}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-vs-cluster.XXXXXX")
pids=()
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	as_pg "'$pg_bin/pg_ctl' -D '$work/pg' stop -m fast" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${SLUICE:-}" ]; then SLUICE=$work/sluice; go build -o "$SLUICE" ./cmd/sluice; fi
[ -x "$pg_bin/initdb" ] || { echo "vs-cluster: no PostgreSQL at $pg_bin (apt-get install postgresql, or set PG_BIN)" >&2; exit 2; }

mkdir -p "$work/pg" "$work/pglog" "$work/objects"
[ "$(id -u)" = 0 ] && chown postgres "$work" "$work/pg" "$work/pglog"
as_pg "'$pg_bin/initdb' -D '$work/pg' -U sluice --auth=trust" >/dev/null
# Durable: fsync and synchronous_commit on, as production runs it.
as_pg "'$pg_bin/pg_ctl' -D '$work/pg' -l '$work/pglog/pg.log' -w -o '-p $base -k $work/pglog -c fsync=on -c synchronous_commit=on' start" >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$base" -U sluice sluice
meta="postgres://sluice@127.0.0.1:$base/sluice"
window=()
[ -n "${WINDOW:-}" ] && window=(--shared-window "$WINDOW")
ids=(a b c)
for n in 1 2 3; do
	id=${ids[n - 1]}
	"$SLUICE" serve --node-id "$id" --meta "$meta" --objects "file://$work/objects" --data-dir "$work/node-$id" \
		--addr "127.0.0.1:$((base + n))" --kafka-addr "" "${window[@]}" >"$work/node-$id.log" 2>&1 &
	pids+=($!)
done
"$SLUICE" serve --fsync always --data-dir "$work/embedded" --addr "127.0.0.1:$((base + 4))" --kafka-addr "" >"$work/embedded.log" 2>&1 &
pids+=($!)
for port in $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)); do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done

xacts() { psql -h 127.0.0.1 -p "$base" -U sluice -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'sluice'" sluice; }
objects() {
	local sum=0 c
	for port in $((base + 1)) $((base + 2)) $((base + 3)); do
		c=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^sluice_shared_log_objects_committed_total/ {print $2}')
		sum=$((sum + ${c:-0}))
	done
	echo "$sum"
}
rate() { awk '/^produce:/ {for (i = 1; i <= NF; i++) if ($(i+1) == "records/s,") print $i}'; }
# Cached consume first, before the produce rounds leave the nodes merging
# thousands of small objects in the background: a backlog that fits the
# node's read cache (256 MiB by default), written through node a and read
# through node b (a first pass fills b's cache), against the embedded node.
backlog=${BACKLOG:-200000}
"$SLUICE" bench consume --addr "http://127.0.0.1:$((base + 1))" --topic consume --backlog "$backlog" >/dev/null 2>&1
"$SLUICE" bench consume --addr "http://127.0.0.1:$((base + 2))" --topic consume --backlog "$backlog" >/dev/null 2>&1
for i in $(seq "$rounds"); do
	echo "== consume round $i: node b (cached), then the embedded node"
	c=$("$SLUICE" bench consume --addr "http://127.0.0.1:$((base + 2))" --topic consume --backlog "$backlog" 2>/dev/null | grep '^consume: [0-9]' | tee /dev/stderr | awk '{print $(NF-3)}')
	e=$("$SLUICE" bench consume --addr "http://127.0.0.1:$((base + 4))" --topic consume --backlog "$backlog" 2>/dev/null | grep '^consume: [0-9]' | tee /dev/stderr | awk '{print $(NF-3)}')
	awk -v c="$c" -v e="$e" -v r="$i" 'BEGIN {printf "round %d: cached consume ratio %.2f\n", r, c / e}'
	curl -s "http://127.0.0.1:$((base + 2))/metrics" | awk '/^sluice_shared_log_(cache_hits|cache_misses|cold_reads|merges)_total/ {printf "node b %s %s\n", $1, $2}'
done 2>&1
for i in $(seq "$rounds"); do
	sync
	x0=$(xacts) o0=$(objects) t0=$(date +%s.%N)
	echo "== round $i: cluster (through node a)"
	c=$("$SLUICE" bench produce --addr "http://127.0.0.1:$((base + 1))" --topic "cluster-$i" --duration "$duration" 2>/dev/null | grep -E '^(produce|ack latency):' | tee /dev/stderr | rate)
	x1=$(xacts) o1=$(objects) t1=$(date +%s.%N)
	awk -v x="$((x1 - x0))" -v o="$((o1 - o0))" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "PostgreSQL commits/s %.0f, objects/s %.0f\n", x / (t1 - t0), o / (t1 - t0)}'
	echo "== round $i: embedded"
	sync
	e=$("$SLUICE" bench produce --addr "http://127.0.0.1:$((base + 4))" --topic "embedded-$i" --duration "$duration" 2>/dev/null | grep -E '^(produce|ack latency):' | tee /dev/stderr | rate)
	awk -v c="$c" -v e="$e" -v r="$i" 'BEGIN {printf "round %d: produce ratio %.2f\n", r, c / e}'
done 2>&1
