package main

// Test helpers of the topic, produce, consume and bench command tests. The
// names carry a "bt" prefix so they cannot clash with other commands' test
// helpers in this package.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/server"
)

// btServer runs a whole node on a temporary directory and returns its URL.
func btServer(t *testing.T) string {
	t.Helper()
	never, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	_, url, stop, err := server.Start(context.Background(), server.Config{
		DataDir: t.TempDir(),
		Fsync:   never,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop server: %v", err)
		}
	})
	return url
}

// btTranscript runs sluice commands in-process against a server and
// records each command, its output and exit code, for a golden file.
type btTranscript struct {
	t    *testing.T
	addr string
	sb   strings.Builder
}

// timestamps in JSON output vary from run to run.
var btTimestamp = regexp.MustCompile(`"timestamp":"[^"]*"`)

// btTopicID matches a topic's Kafka id in topic describe's table and JSON.
var btTopicID = regexp.MustCompile(`(Topic ID: |"topic_id": ?")[A-Za-z0-9_-]{22}`)

// run runs "sluice args..." with stdin and --addr appended.
func (tr *btTranscript) run(stdin string, args ...string) (stdout string, code int) {
	tr.t.Helper()
	var out, errb bytes.Buffer
	full := append(append([]string{}, args...), "--addr", tr.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, full, strings.NewReader(stdin), &out, &errb)
	fmt.Fprintf(&tr.sb, "$ sluice %s\n", strings.Join(args, " "))
	if stdin != "" {
		fmt.Fprintf(&tr.sb, "(stdin %q)\n", stdin)
	}
	o := btTimestamp.ReplaceAllString(out.String(), `"timestamp":"TIME"`)
	o = btTopicID.ReplaceAllString(o, "${1}TOPIC-ID") // new at each creation
	tr.sb.WriteString(o)
	if errb.Len() > 0 {
		tr.sb.WriteString("[stderr] " + strings.ReplaceAll(errb.String(), tr.addr, "ADDR"))
	}
	fmt.Fprintf(&tr.sb, "[exit %d]\n\n", code)
	return out.String(), code
}

// check compares the transcript with testdata/name (golden.Check; -update
// rewrites it).
func (tr *btTranscript) check(name string) {
	tr.t.Helper()
	golden.Check(tr.t, filepath.Join("testdata", name), tr.sb.String())
}

// btLines is an io.Writer that reports each complete line on a channel.
type btLines struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func newBtLines() *btLines { return &btLines{lines: make(chan string, 1000)} }

func (w *btLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			// Keep the partial line for the next write.
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines <- strings.TrimSuffix(line, "\n")
	}
}

// next waits for the next line.
func (w *btLines) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-w.lines:
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no output line within 30s")
		return ""
	}
}
