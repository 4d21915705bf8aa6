package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// syncBuffer is a bytes.Buffer that the server goroutine writes while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs `sluice serve args...` until ctx ends and waits for it to
// listen. It returns the address it listens on, a channel that receives its
// exit code, and its stderr.
func startServe(t *testing.T, ctx context.Context, args ...string) (addr string, done <-chan int, stderr *syncBuffer) {
	t.Helper()
	stderr = &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: stderr, getenv: func(string) string { return "" }}
	exited := make(chan int, 1)
	// The Kafka listener is on by default at localhost:9092: tests take a
	// free port instead (a later --kafka-addr in args wins).
	args = append([]string{"--kafka-addr", "127.0.0.1:0"}, args...)
	go func() { exited <- runServe(ctx, e, args) }()
	listening := regexp.MustCompile(`msg="sluice listening" addr=(\S+)`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], exited, stderr
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited with %d:\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 20s:\n%s", stderr.String())
		}
	}
}

// TestServeGroupSessionBounds runs `sluice serve` with narrowed group
// session timeout bounds and heartbeats over the real API: a session
// timeout inside the bounds is accepted, one outside is refused with
// InvalidArgument naming the bounds, and so is a member asking for none
// (the 45s default lies outside), after serve warned about it.
func TestServeGroupSessionBounds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done, stderr := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never",
		"--group-min-session-timeout", "5s", "--group-max-session-timeout", "40s")
	if !strings.Contains(stderr.String(), "the default group session timeout is outside the bounds") {
		t.Errorf("no warning about the 45s default outside 5s..40s:\n%s", stderr.String())
	}
	base := "http://" + addr
	topics := brokerv1connect.NewTopicServiceClient(http.DefaultClient, base)
	if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "orders", Partitions: 1})); err != nil {
		t.Fatal(err)
	}
	groups := brokerv1connect.NewGroupServiceClient(http.DefaultClient, base)
	for _, tc := range []struct {
		name    string
		timeout *durationpb.Duration
		want    string // "" accepted, else the refusal's message
	}{
		{"inside", durationpb.New(10 * time.Second), ""},
		{"the minimum", durationpb.New(5 * time.Second), ""},
		{"the maximum", durationpb.New(40 * time.Second), ""},
		{"below", durationpb.New(4 * time.Second), "group g-below: session timeout 4s is outside 5s..40s"},
		{"above", durationpb.New(time.Minute), "group g-above: session timeout 1m0s is outside 5s..40s"},
		{"the default", nil, "group g-the default: session timeout 45s is outside 5s..40s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := groups.Heartbeat(ctx, connect.NewRequest(&brokerv1.HeartbeatRequest{
				Group:        "g-" + tc.name,
				Subscription: &brokerv1.Subscription{Topics: []string{"orders"}, SessionTimeout: tc.timeout},
			}))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || !strings.Contains(ce.Message(), tc.want) {
				t.Fatalf("got %v; want InvalidArgument %q", err, tc.want)
			}
		})
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited with %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context ending")
	}
}

// TestServeSessionBoundFlags: bad bounds are refused before anything
// starts, naming the flag.
func TestServeSessionBoundFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--group-min-session-timeout", "0s"}, "--group-min-session-timeout 0s: want a positive duration"},
		{[]string{"--group-max-session-timeout", "-1s"}, "--group-max-session-timeout -1s: want a positive duration"},
		{[]string{"--group-min-session-timeout", "2m", "--group-max-session-timeout", "1m"}, "--group-min-session-timeout 2m0s is more than --group-max-session-timeout 1m0s"},
		{[]string{"--group-max-session-timeout", "soon"}, `invalid value "soon" for flag -group-max-session-timeout`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
			args := append([]string{"--data-dir", t.TempDir()}, tc.args...)
			if code := runServe(context.Background(), e, args); code != 2 {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

// TestServeHelpListsSessionBounds: --help documents both flags and their
// defaults.
func TestServeHelpListsSessionBounds(t *testing.T) {
	var stdout bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	if code := runServe(context.Background(), e, []string{"--help"}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"-group-min-session-timeout duration", "(default 1s)", "-group-max-session-timeout duration", "(default 30m0s)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help does not say %q:\n%s", want, stdout.String())
		}
	}
}

// TestServeTakenPort: serve on an address another listener holds fails
// naming the address and the flag that changes it, before it creates the
// data directory.
func TestServeTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dataDir := filepath.Join(t.TempDir(), "sluice-data")
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := runServe(context.Background(), e, []string{"--addr", ln.Addr().String(), "--kafka-addr", "127.0.0.1:0", "--data-dir", dataDir}); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"addr=" + ln.Addr().String(), "--addr", "address already in use"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the data directory was touched (stat: %v); serve must bind first", err)
	}
}

// TestServeDataDirInUse: a second serve (or bench --in-process) on a data
// directory that a running serve holds exits 1 naming the directory, the
// holder's pid and address, and the flag that picks another directory; the
// first keeps serving.
func TestServeDataDirInUse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dataDir := t.TempDir()
	addr, done, first := startServe(t, ctx, "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--fsync", "never")

	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := runServe(ctx, e, []string{"--addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0", "--data-dir", dataDir}); code != 1 {
		t.Fatalf("second serve exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{"data directory " + dataDir + " is in use", fmt.Sprintf("pid %d serving %s", os.Getpid(), addr), "--data-dir"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	// bench --in-process opens the directory through the same server
	// package: refused the same way.
	var bout, berr bytes.Buffer
	if code := run(ctx, []string{"bench", "produce", "--in-process", "--data-dir", dataDir, "--duration", "1s"}, strings.NewReader(""), &bout, &berr); code == 0 {
		t.Errorf("bench --in-process on the held directory exited 0:\n%s%s", bout.String(), berr.String())
	} else if want := fmt.Sprintf("data directory %s is in use by pid %d serving %s", dataDir, os.Getpid(), addr); !strings.Contains(berr.String(), want) {
		t.Errorf("bench stderr does not say %q:\n%s", want, berr.String())
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("first serve /readyz = %d after the refusal", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("first serve exited with %d:\n%s", code, first.String())
	}
}
