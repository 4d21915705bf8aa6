package loadgen

// This file is --sample-rss: the resident memory of a server process (and
// of the load generator itself, with its live heap) sampled while the load
// is measured, so a run shows whether memory stays flat as a backlog is
// read.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"time"
)

// rssEvery is how often --sample-rss reads /proc.
const rssEvery = 100 * time.Millisecond

// memStatus is what the sampler reads from /proc/PID/status, in bytes:
// VmRSS (resident now) and VmHWM (the peak resident since the process
// started, which the kernel keeps, so a peak between samples is not lost).
type memStatus struct {
	rss, hwm int64
}

// parseStatus reads VmRSS and VmHWM out of the text of /proc/PID/status
// (lines such as "VmRSS:\t   41744 kB"). Both must be present.
func parseStatus(b []byte) (memStatus, error) {
	var s memStatus
	var haveRSS, haveHWM bool
	for line := range bytes.Lines(b) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(name) {
		case "VmRSS":
			dst, haveRSS = &s.rss, true
		case "VmHWM":
			dst, haveHWM = &s.hwm, true
		default:
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return s, fmt.Errorf("%s: want a number of kB, got %q", name, bytes.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 {
			return s, fmt.Errorf("%s: want a number of kB, got %q", name, bytes.TrimSpace(rest))
		}
		*dst = kb << 10
	}
	switch {
	case !haveRSS:
		return s, fmt.Errorf("no VmRSS line (a kernel thread, or not Linux)")
	case !haveHWM:
		return s, fmt.Errorf("no VmHWM line")
	}
	return s, nil
}

// readStatus reads the memory status of process pid ("self" for this one).
func readStatus(pid string) (memStatus, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return memStatus{}, err
	}
	s, err := parseStatus(b)
	if err != nil {
		return s, fmt.Errorf("/proc/%s/status: %v", pid, err)
	}
	return s, nil
}

// rssSampler samples the server's and this process's resident memory
// every rssEvery between start and stop.
type rssSampler struct {
	pid  int
	done chan struct{}
	wg   sync.WaitGroup

	mu             sync.Mutex
	server, client []int64 // VmRSS samples, bytes
	serverHWM      int64
	clientHWM      int64
	// clientLive are this process's live heap after each GC (runtime
	// metric /gc/heap/live:bytes): what the Go code holds, without the
	// collector's headroom. With an in-process server, the server's too.
	clientLive []int64
	gone       error // the server stopped answering (it exited)
}

// startRSS checks that pid's status can be read and starts sampling it.
func startRSS(pid int) (*rssSampler, error) {
	if _, err := readStatus(strconv.Itoa(pid)); err != nil {
		return nil, fmt.Errorf("--sample-rss %d: %v", pid, err)
	}
	s := &rssSampler{pid: pid, done: make(chan struct{})}
	s.sample()
	s.wg.Go(func() {
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	})
	return s, nil
}

func (s *rssSampler) sample() {
	srv, err := readStatus(strconv.Itoa(s.pid))
	cli, cerr := readStatus("self")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.gone == nil {
			s.gone = err
		}
	} else {
		s.server = append(s.server, srv.rss)
		s.serverHWM = max(s.serverHWM, srv.hwm)
	}
	if cerr == nil {
		s.client = append(s.client, cli.rss)
		s.clientHWM = max(s.clientHWM, cli.hwm)
	}
	if live := heapLive(); live > 0 {
		s.clientLive = append(s.clientLive, live)
	}
}

// heapLive is this process's live heap as of the last GC, or 0 when the
// runtime does not report it.
func heapLive() int64 {
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(m[0].Value.Uint64())
}

// stop takes a last sample and stops sampling; it may be called twice.
func (s *rssSampler) stop() {
	if s == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.sample()
	close(s.done)
	s.wg.Wait()
}

// rssStats is min, median and max of samples, in bytes.
type rssStats struct {
	n                int
	min, median, max int64
}

func rssSummary(samples []int64) rssStats {
	if len(samples) == 0 {
		return rssStats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return rssStats{n: len(s), min: s[0], median: s[len(s)/2], max: s[len(s)-1]}
}

// mib formats bytes as MiB with one decimal.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

// rssRow is one --tsv row of the memory summary.
type rssRow struct {
	metric string
	value  float64
}

// rows are the memory figures as TSV metrics (MiB).
func (s *rssSampler) rows() []rssRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, cli, live := rssSummary(s.server), rssSummary(s.client), rssSummary(s.clientLive)
	return []rssRow{
		{"server_rss_min_MiB", mib(srv.min)},
		{"server_rss_median_MiB", mib(srv.median)},
		{"server_rss_max_MiB", mib(srv.max)},
		{"server_rss_peak_MiB", mib(s.serverHWM)},
		{"client_rss_max_MiB", mib(cli.max)},
		{"client_rss_peak_MiB", mib(s.clientHWM)},
		{"client_heap_live_max_MiB", mib(live.max)},
	}
}

// print writes the memory summary as text.
func (s *rssSampler) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, cli, live := rssSummary(s.server), rssSummary(s.client), rssSummary(s.clientLive)
	fmt.Fprintf(w, "server rss (pid %d, %s every %v): min %.1f MiB  median %.1f MiB  max %.1f MiB  peak (VmHWM, since it started) %.1f MiB\n",
		s.pid, plural(srv.n, "sample"), rssEvery, mib(srv.min), mib(srv.median), mib(srv.max), mib(s.serverHWM))
	fmt.Fprintf(w, "client rss (this process): min %.1f MiB  median %.1f MiB  max %.1f MiB  peak %.1f MiB; live heap after GC: median %.1f MiB  max %.1f MiB\n",
		mib(cli.min), mib(cli.median), mib(cli.max), mib(s.clientHWM), mib(live.median), mib(live.max))
	if s.gone != nil {
		fmt.Fprintf(w, "server rss: sampling stopped early: %v\n", s.gone)
	}
}
