#!/usr/bin/env bash
# consume-memory.sh: does a Sluice server read a backlog several times larger
# than the memory it is allowed with flat resident memory?
#
# For each backlog size (GiB, 1 KiB records, 8 partitions) it fills a fresh
# data directory through a `sluice serve --fsync never`, stops it, drops the
# data files' pages from the page cache (fsync, then posix_fadvise DONTNEED
# through `dd iflag=nocache count=0`: only these files, nothing global), then
# starts a new `sluice serve` inside a memory cgroup limited to --limit MiB
# (page cache counts against it) and reads the whole backlog:
#
#   1. over Connect: `sluice bench consume --sample-rss PID` (server and
#      consumer RSS, min/median/max and the kernel's peak VmHWM);
#   2. over the Kafka listener with kcat, when installed (server RSS sampled
#      by this script; kcat's own peak from its /proc entry).
#
# and prints the cgroup's peak usage (RSS + page cache) and how often it hit
# the limit. Flat resident memory is the same server peak for every backlog
# size.
#
# Needs root for the cgroup (v1 memory controller, or v2 with memory
# delegated to this shell's cgroup); without one it still runs, with
# GOMEMLIMIT set to the limit and no page cache bound, and says so.
#
# Usage: loadgen/consume-memory.sh [--limit MiB] [--work DIR] [--keep] [--bin SLUICE] [--consumers N] GIB...
#   e.g. loadgen/consume-memory.sh --limit 256 1 4
# --work holds the binary and the data directories d<GIB> (reused when
# present; removed at the end unless --keep); --bin uses a built binary
# instead of building ./cmd/sluice; --consumers is bench consume's (default
# 1: one stream for all partitions; N > 1: a stream per partition).
set -euo pipefail

limit=256
work="${TMPDIR:-/tmp}/sluice-consume-memory"
keep=0
bin=""
consumers=1
sizes=()
while (($#)); do
	case "$1" in
	--limit) limit="$2"; shift 2 ;;
	--work) work="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--bin) bin="$2"; shift 2 ;;
	--consumers) consumers="$2"; shift 2 ;;
	-h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
	-*) echo "consume-memory.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
	*)
		[[ "$1" =~ ^[0-9]+$ && "$1" -gt 0 ]] || { echo "consume-memory.sh: backlog $1: want a whole number of GiB" >&2; exit 2; }
		sizes+=("$1"); shift ;;
	esac
done
[[ "$limit" =~ ^[0-9]+$ && "$limit" -ge 64 ]] || { echo "consume-memory.sh: --limit $limit: want MiB, at least 64" >&2; exit 2; }
((${#sizes[@]})) || sizes=(1 4)

root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$work"
if [[ -z "$bin" ]]; then
	bin="$work/sluice"
	(cd "$root" && go build -o "$bin" ./cmd/sluice)
fi
http=127.0.0.1:18480
kafka=127.0.0.1:19482
server_pid=""
cg=""

stop_server() {
	if [[ -n "$server_pid" ]]; then
		kill "$server_pid" 2>/dev/null || true
		while kill -0 "$server_pid" 2>/dev/null; do sleep 0.1; done
		server_pid=""
	fi
}
remove_cgroup() {
	if [[ -n "$cg" && -d "$cg" ]]; then
		rmdir "$cg" 2>/dev/null || echo "consume-memory.sh: could not remove cgroup $cg" >&2
	fi
	cg=""
}
cleanup() {
	stop_server
	remove_cgroup
	((keep)) || rm -rf "$work"/d*
}
trap cleanup EXIT

# make_cgroup creates a memory cgroup under this shell's own and sets its
# limit; it prints nothing and leaves cg empty when it cannot.
make_cgroup() {
	local own
	if [[ -d /sys/fs/cgroup/memory ]]; then # v1
		own="$(awk -F: '$2 == "memory" {print $3}' /proc/self/cgroup)"
		cg="/sys/fs/cgroup/memory${own%/}/sluice-bench-$$"
		mkdir "$cg" 2>/dev/null && echo $((limit << 20)) >"$cg/memory.limit_in_bytes" 2>/dev/null && return
	elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then # v2
		own="$(awk -F: '$1 == "0" {print $3}' /proc/self/cgroup)"
		cg="/sys/fs/cgroup${own%/}/sluice-bench-$$"
		mkdir "$cg" 2>/dev/null && echo $((limit << 20)) >"$cg/memory.max" 2>/dev/null && return
	fi
	[[ -n "$cg" && -d "$cg" ]] && rmdir "$cg" 2>/dev/null
	cg=""
}

# cached DIR prints how much of DIR's log files is in the page cache.
cached() {
	command -v fincore >/dev/null || return 0
	find "$1" -type f -name '*.log' -exec fincore --bytes --noheadings --output RES {} + |
		awk '{s += $1} END {printf "page cache holds %.1f MiB of the log files\n", s/1048576}'
}

# cg_report prints the cgroup's peak usage and limit hits.
cg_report() {
	[[ -n "$cg" ]] || return 0
	if [[ -f "$cg/memory.max_usage_in_bytes" ]]; then
		echo "cgroup: limit $limit MiB, peak usage (RSS + page cache) $(($(cat "$cg/memory.max_usage_in_bytes") >> 20)) MiB, hit the limit $(cat "$cg/memory.failcnt") times"
	else
		echo "cgroup: limit $limit MiB, peak usage (RSS + page cache) $(($(cat "$cg/memory.peak") >> 20)) MiB, $(grep -E '^(max|oom_kill) ' "$cg/memory.events" | tr '\n' ' ')"
	fi
}

# start_server DIR [cgroup]: a sluice serve on DIR, in the cgroup if given.
start_server() {
	local dir="$1" in_cg="${2:-}"
	env ${GOMEMLIMIT_SET:+GOMEMLIMIT=$GOMEMLIMIT_SET} bash -c '
		if [[ -n "$1" ]]; then echo $$ >"$1/cgroup.procs"; fi
		exec "$2" serve --data-dir "$3" --fsync never --addr "$4" --kafka-addr "$5" --log-level warn' \
		_ "$in_cg" "$bin" "$dir" "$http" "$kafka" >>"$work/serve.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		curl -fs "http://$http/readyz" >/dev/null 2>&1 && return
		kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
		sleep 0.1
	done
	echo "consume-memory.sh: the server did not become ready" >&2
	exit 1
}

# sample_rss PID: VmRSS in KiB every 100ms until PID exits or the file
# $work/stop appears.
sample_rss() {
	while [[ ! -e "$work/stop" ]] && kill -0 "$1" 2>/dev/null; do
		awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null
		sleep 0.1
	done
}

# rss_stats FILE: min/median/max of KiB samples, in MiB.
rss_stats() {
	sort -n "$1" | awk '{a[NR]=$1} END {if (NR) printf "min %.1f MiB  median %.1f MiB  max %.1f MiB (%d samples)", a[1]/1024, a[int((NR+1)/2)]/1024, a[NR]/1024, NR}'
}
# opened PID: the server's resident memory once it has opened the data
# (the in-memory sparse indexes grow with the data stored; the read path
# should add a constant on top).
opened() {
	sleep 1
	awk '$1 == "VmRSS:" {printf "server rss after opening the data, before the read: %.1f MiB\n", $2/1024}' "/proc/$1/status"
}
hwm() { awk '$1 == "VmHWM:" {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }

for gib in "${sizes[@]}"; do
	records=$((gib << 20))
	dir="$work/d$gib"
	echo "== backlog ${gib} GiB: $records records of 1 KiB"
	if [[ ! -d "$dir" ]]; then
		start_server "$dir"
		"$bin" bench consume --addr "http://$http" --backlog "$records" --batch 256 --inflight 16 --duration 100ms >/dev/null
		stop_server
	fi
	echo "data: $(du -sh "$dir" | cut -f1)"
	# Only clean pages can be dropped: fsync the files first.
	find "$dir" -type f -name '*.log' -exec sync {} + -exec sh -c 'for f; do dd if="$f" iflag=nocache count=0 status=none; done' _ {} +

	cached "$dir"
	make_cgroup
	if [[ -n "$cg" ]]; then
		echo "server in cgroup $cg, memory limit $limit MiB (page cache included)"
		GOMEMLIMIT_SET=""
	else
		echo "no memory cgroup could be created here: GOMEMLIMIT=${limit}MiB on the server, page cache NOT bounded"
		GOMEMLIMIT_SET="${limit}MiB"
	fi
	start_server "$dir" "$cg"
	opened "$server_pid"
	"$bin" bench consume --addr "http://$http" --backlog "$records" --duration 10m --consumers "$consumers" --sample-rss "$server_pid" | grep -v '^left topic'
	cg_report

	if command -v kcat >/dev/null; then
		# A fresh server and cold files again, then kcat over the Kafka listener.
		stop_server
		remove_cgroup
		find "$dir" -type f -name '*.log' -exec sh -c 'for f; do dd if="$f" iflag=nocache count=0 status=none; done' _ {} +
		cached "$dir"
		make_cgroup
		start_server "$dir" "$cg"
		opened "$server_pid"
		rm -f "$work/stop"
		sample_rss "$server_pid" >"$work/kafka-rss" &
		sampler=$!
		start=$(date +%s.%N)
		kcat -C -b "$kafka" -t bench -o beginning -e -q -f '%o\n' >/dev/null &
		kcat_pid=$!
		kcat_peak=0
		while kill -0 "$kcat_pid" 2>/dev/null; do
			kb=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$kcat_pid/status" 2>/dev/null || echo 0)
			((${kb:-0} > kcat_peak)) && kcat_peak=$kb
			sleep 0.1
		done
		wait "$kcat_pid"
		secs=$(echo "$(date +%s.%N) - $start" | bc)
		touch "$work/stop"
		wait "$sampler"
		printf 'kafka (kcat): %d records in %.1fs: %.0f records/s, %.1f MB/s\n' "$records" "$secs" "$(echo "$records / $secs" | bc -l)" "$(echo "$records * 1024 / $secs / 1000000" | bc -l)"
		echo "server rss (pid $server_pid, kcat): $(rss_stats "$work/kafka-rss")  peak (VmHWM) $(hwm "$server_pid")"
		printf 'kcat rss peak: %.1f MiB\n' "$(echo "$kcat_peak / 1024" | bc -l)"
		cg_report
	fi
	stop_server
	remove_cgroup
done
