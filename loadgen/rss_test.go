package loadgen

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     memStatus
		err      string
	}{
		{name: "linux", in: "Name:\tsluice\nVmPeak:\t 1 kB\nVmHWM:\t   78004 kB\nVmRSS:\t   74872 kB\nThreads:\t9\n",
			want: memStatus{rss: 74872 << 10, hwm: 78004 << 10}},
		{name: "no trailing newline", in: "VmRSS:\t1 kB\nVmHWM:\t2 kB", want: memStatus{rss: 1 << 10, hwm: 2 << 10}},
		{name: "kernel thread", in: "Name:\tkthreadd\nState:\tS\n", err: "no VmRSS line (a kernel thread, or not Linux)"},
		{name: "no peak", in: "VmRSS:\t1 kB\n", err: "no VmHWM line"},
		{name: "unit", in: "VmRSS:\t1 MB\nVmHWM:\t2 kB\n", err: `VmRSS: want a number of kB, got "1 MB"`},
		{name: "number", in: "VmRSS:\tx kB\nVmHWM:\t2 kB\n", err: `VmRSS: want a number of kB, got "x kB"`},
		{name: "negative", in: "VmRSS:\t1 kB\nVmHWM:\t-2 kB\n", err: `VmHWM: want a number of kB, got "-2 kB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestRSSSamplerSelf samples this process as the "server": the samples and
// the peak are this process's resident memory.
func TestRSSSamplerSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc:", err)
	}
	s, err := startRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.stop() // twice is fine
	st := rssSummary(s.server)
	if st.n < 2 || st.min <= 0 || st.max < st.min || s.serverHWM < st.max {
		t.Errorf("server samples %+v, peak %d", st, s.serverHWM)
	}
	if live := rssSummary(s.clientLive); live.n < 2 || live.min <= 0 {
		t.Errorf("live heap samples %+v", live)
	}
	var b strings.Builder
	s.print(&b)
	if !strings.HasPrefix(b.String(), "server rss (pid ") || !strings.Contains(b.String(), "client rss (this process): min ") {
		t.Errorf("summary:\n%s", b.String())
	}
	if _, err := startRSS(1 << 30); err == nil || !strings.Contains(err.Error(), "--sample-rss 1073741824: open /proc/1073741824/status") {
		t.Errorf("no such process: %v", err)
	}
}

func TestRSSSummary(t *testing.T) {
	if got := rssSummary([]int64{5, 1, 3, 9}); got != (rssStats{n: 4, min: 1, median: 5, max: 9}) {
		t.Errorf("got %+v", got)
	}
	if got := rssSummary(nil); got != (rssStats{}) {
		t.Errorf("empty: %+v", got)
	}
}
