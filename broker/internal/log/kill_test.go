package log

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The kill -9 test re-executes the test binary as a child (the os/exec
// helperCommand pattern) that appends with FsyncAlways and prints every ack;
// the parent kills it with SIGKILL mid-stream and checks, after reopening
// the directory, that every acked record is there byte for byte.

const killDirEnv = "SLUICE_LOG_KILL9_DIR"

// TestKill9Child is the child process; it does nothing in a normal run.
func TestKill9Child(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("child of TestKill9 only")
	}
	p, err := Open(dir, Config{SegmentBytes: 64 << 10, IndexIntervalBytes: 1024, MaintenanceInterval: -1})
	if err != nil {
		fmt.Fprintf(os.Stderr, "child: %v\n", err)
		os.Exit(2)
	}
	var mu sync.Mutex // one ack line per write(2)
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Minute) // in case the parent never kills us
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			for i := 0; time.Now().Before(deadline); i++ {
				n := 1 + rng.IntN(3)
				recs := make([]Record, n)
				for j := range recs {
					v := make([]byte, rng.IntN(3000))
					for k := range v {
						v[k] = byte(rng.Uint32())
					}
					recs[j] = Record{Key: []byte(fmt.Sprintf("w%d-%d-%d", w, i, j)), Value: v}
				}
				off, err := p.Append(context.Background(), recs)
				if err != nil {
					fmt.Fprintf(os.Stderr, "child: append: %v\n", err)
					os.Exit(3)
				}
				var line strings.Builder
				for j, r := range recs {
					fmt.Fprintf(&line, "ack %d %s\n", off+int64(j), recordHash(r))
				}
				mu.Lock()
				os.Stdout.WriteString(line.String())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(0)
}

func recordHash(r Record) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s|%d:", len(r.Key), r.Key, len(r.Value))
	h.Write(r.Value)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func TestKill9(t *testing.T) {
	// Three kills on the same directory (about 2s, 5s under -race); one
	// with -short.
	kills := []int{300, 1000, 2500}
	if testing.Short() {
		kills = kills[:1]
	}
	dir := t.TempDir()
	acked := map[int64]string{}
	for round, killAt := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9Child$")
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		killed := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				t.Fatalf("round %d: child printed %q", round, sc.Text())
			}
			off, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := acked[off]; dup {
				t.Fatalf("round %d: offset %d acked twice (%s, then %s)", round, off, prev, f[2])
			}
			acked[off] = f[2]
			n++
			if n == killAt && !killed {
				// Process.Kill is SIGKILL: no deferred code, no Close.
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed || err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: child ended with %v before being killed; stderr:\n%s", round, err, stderr.String())
		}

		lg, logs := newTestLogger(t)
		p, err := Open(dir, Config{SegmentBytes: 64 << 10, IndexIntervalBytes: 1024, MaintenanceInterval: -1, Logger: lg})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		got := readAll(t, p, 0) // every batch CRC-checked on the way
		for i, r := range got {
			if r.Offset != int64(i) {
				t.Fatalf("round %d: record %d has offset %d", round, i, r.Offset)
			}
		}
		for off, h := range acked {
			if off >= int64(len(got)) {
				t.Fatalf("round %d: acked offset %d lost; recovered %d records", round, off, len(got))
			}
			if gh := recordHash(got[off]); gh != h {
				t.Fatalf("round %d: offset %d holds %s, acked %s", round, off, gh, h)
			}
		}
		t.Logf("round %d: %d acked in total, %d recovered, %d segments; torn tails cut: %d", round, len(acked), len(got),
			len(*p.segs.Load()), strings.Count(logs.String(), "truncated torn tail"))
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
