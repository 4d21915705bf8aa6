package pgsink_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// postgresCPU is the CPU time (user and system, in nanoseconds) that the
// PostgreSQL server started by this test process has used: its postmaster
// with the backends it has reaped, plus its live processes (backends,
// checkpointer, WAL writer, autovacuum). It is 0 when the server is not a
// child of this process (SLUICE_TEST_PG names an outside server). The
// kernel counts in clock ticks (10 ms): read it around runs of a second or
// more.
func postgresCPU() int64 {
	self := os.Getpid()
	stats := procStats()
	var ticks int64
	for pid, st := range stats {
		if st.ppid != self || st.comm != "postgres" {
			continue
		}
		ticks += st.utime + st.stime + st.cutime + st.cstime
		for _, c := range stats {
			if c.ppid == pid {
				ticks += c.utime + c.stime
			}
		}
	}
	return ticks * 10_000_000 // USER_HZ is 100 on Linux
}

type procStat struct {
	comm                         string
	ppid                         int
	utime, stime, cutime, cstime int64
}

// procStats reads /proc/<pid>/stat of every process.
func procStats() map[int]procStat {
	out := map[int]procStat{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:]) // f[0] is field 3, state
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
		n := func(i int) int64 { v, _ := strconv.ParseInt(f[i-3], 10, 64); return v }
		out[pid] = procStat{comm: s[open+1 : end], ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}
	}
	return out
}

// postgresCPUByProcess is postgresCPU per process of the server, keyed by
// its title ("postgres: checkpointer", a backend's "postgres: user db
// host COPY"); reaped processes are under "reaped".
func postgresCPUByProcess() map[string]int64 {
	self := os.Getpid()
	stats := procStats()
	out := map[string]int64{}
	for pid, st := range stats {
		if st.ppid != self || st.comm != "postgres" {
			continue
		}
		out["postmaster"] += (st.utime + st.stime) * 10_000_000
		out["reaped"] += (st.cutime + st.cstime) * 10_000_000
		for cpid, c := range stats {
			if c.ppid == pid {
				title, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(cpid), "cmdline"))
				name := strings.TrimRight(strings.ReplaceAll(string(title), "\x00", " "), " ")
				out[strconv.Itoa(cpid)+" "+name] += (c.utime + c.stime) * 10_000_000
			}
		}
	}
	return out
}
