#!/usr/bin/env bash
# vs-kfake.sh: Sluice side by side with franz-go's kfake (fsync per batch), in
# one script, rounds interleaved so that both see the same machine.
#
# Each round runs:
#   1. kfake:  kfakebench -mode disk-sync (produce, catch-up consume, then
#      one-at-a-time ProduceSync calls for the p50);
#   2. Sluice: `sluice serve --fsync always` on a fresh data directory, a topic
#      of 8 partitions, the same kfakebench with -mode external against its
#      Kafka listener; then `sluice bench produce` over Connect (64-record
#      requests x 16 in flight), the same pipelined on one ProduceStream per
#      producer (`--stream`), and `sluice bench produce --kafka --validate
#      none,payload` (Avro payload validation over the same listener).
# Before each of these runs it writes back the dirty pages of the runs before
# (`sync`), so that no run pays for another's writeback (as vs-cluster.sh).
# It prints the median of each figure and the median (min, max) of the
# per-round ratios. Everything runs on 127.0.0.1; the processes it starts are
# stopped by pid.
#
# Usage: loadgen/vs-kfake.sh [ROUNDS]     (default 5)
# Environment: KFAKEBENCH (default: built from ../shared/perf/gobench),
#   SLUICE (default: built from this checkout), RECORDS (300000),
#   CONNECT_DURATION (8s), VALIDATE_DURATION (5s), NICE (-19 as root, else 0).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
records=${RECORDS:-300000}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-vs-kfake.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${SLUICE:-}" ]; then SLUICE=$work/sluice; go build -o "$SLUICE" ./cmd/sluice; fi
if [ -z "${KFAKEBENCH:-}" ]; then
	KFAKEBENCH=$work/kfakebench
	(cd ../shared/perf/gobench && go build -o "$KFAKEBENCH" ./cmd/kfakebench)
fi
nice=${NICE:-$([ "$(id -u)" = 0 ] && echo -19 || echo 0)}
run() { nice -n "$nice" "$@"; }
out=$work/rows.tsv
for i in $(seq "$rounds"); do
	sync
	run "$KFAKEBENCH" -mode disk-sync -dir "$work/kfake$i" -records "$records" -lat-records 2000 2>/dev/null |
		awk -v r="$i" '$1 ~ /^(produce_records_per_s|consume_records_per_s|sync_produce_p50)$/ {print r"\tkfake\t"$1"\t"$2}' >>"$out"
	rm -rf "$work/kfake$i"
	nice -n "$nice" "$SLUICE" serve --data-dir "$work/sluice$i" --addr 127.0.0.1:18782 --kafka-addr 127.0.0.1:19792 --fsync always --log-level warn >/dev/null 2>&1 &
	pid=$! # nice execs the server: this is its pid, not a subshell's
	for _ in $(seq 100); do "$SLUICE" topic create bench --partitions 8 --addr http://127.0.0.1:18782 >/dev/null 2>&1 && break; sleep 0.1; done
	sync
	run "$KFAKEBENCH" -mode external -seeds 127.0.0.1:19792 -topic bench -records "$records" -lat-records 2000 2>/dev/null |
		awk -v r="$i" '$1 ~ /^(produce_records_per_s|consume_records_per_s|sync_produce_p50)$/ {print r"\tsluice-kafka\t"$1"\t"$2}' >>"$out"
	sync
	run "$SLUICE" bench produce --addr http://127.0.0.1:18782 --topic connect-small --duration "${CONNECT_DURATION:-8s}" --tsv 2>/dev/null |
		awk -v r="$i" '$2=="produce_records_per_s" {print r"\tsluice-connect-64x16\t"$2"\t"$3}' >>"$out"
	sync
	run "$SLUICE" bench produce --stream --addr http://127.0.0.1:18782 --topic connect-stream --duration "${CONNECT_DURATION:-8s}" --tsv 2>/dev/null |
		awk -v r="$i" '$2=="produce_records_per_s" {print r"\tsluice-connect-stream-64x16\t"$2"\t"$3}' >>"$out"
	sync
	run "$SLUICE" bench produce --addr http://127.0.0.1:18782 --kafka 127.0.0.1:19792 --topic val --validate none,payload --duration "${VALIDATE_DURATION:-5s}" --tsv 2>/dev/null |
		awk -v r="$i" '$2 ~ /_(none|payload)_records_per_s$|payload_over_none$/ {print r"\tsluice-kafka-validate\t"$2"\t"$3}' >>"$out"
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
	rm -rf "$work/sluice$i"
	echo "round $i of $rounds done" >&2
done
python3 - "$out" <<'PY'
import collections, statistics as st, sys
rows = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, who, metric, v = line.rstrip("\n").split("\t")
    rows[(who, metric)][int(r)] = float(v)
for (who, metric), runs in sorted(rows.items()):
    print(f"{who:22s} {metric:38s} median {st.median(runs.values()):12.1f}  runs {sorted(runs.values())}")
def ratio(label, a, b):
    rs = [rows[a][r] / rows[b][r] for r in rows[a] if rows[b].get(r)]
    if rs:
        print(f"{label}: median {st.median(rs):.2f} (min {min(rs):.2f}, max {max(rs):.2f}) over {len(rs)} rounds")
ratio("produce, Sluice over kfake", ("sluice-kafka", "produce_records_per_s"), ("kfake", "produce_records_per_s"))
ratio("consume, Sluice over kfake", ("sluice-kafka", "consume_records_per_s"), ("kfake", "consume_records_per_s"))
ratio("ProduceSync p50, Sluice over kfake (lower is better)", ("sluice-kafka", "sync_produce_p50"), ("kfake", "sync_produce_p50"))
ratio("Connect 64x16 produce over kfake produce", ("sluice-connect-64x16", "produce_records_per_s"), ("kfake", "produce_records_per_s"))
ratio("Connect 64x16 on ProduceStream over kfake produce", ("sluice-connect-stream-64x16", "produce_records_per_s"), ("kfake", "produce_records_per_s"))
PY
