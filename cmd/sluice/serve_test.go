package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
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

// TestServeGroupSessionBounds runs `sluice serve` with narrowed group
// session timeout bounds and heartbeats over the real API: a session
// timeout inside the bounds is accepted, one outside is refused with
// InvalidArgument naming the bounds, and so is a member asking for none
// (the 45s default lies outside), after serve warned about it.
func TestServeGroupSessionBounds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- runServe(ctx, e, []string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fsync", "never",
			"--group-min-session-timeout", "5s", "--group-max-session-timeout", "40s"})
	}()
	listening := regexp.MustCompile(`msg="sluice listening" addr=(\S+)`)
	var addr string
	for deadline := time.Now().Add(20 * time.Second); addr == ""; {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d:\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen within 20s:\n%s", stderr.String())
		}
	}
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
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := runServe(context.Background(), e, []string{"--help"}); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	for _, want := range []string{"-group-min-session-timeout duration", "(default 1s)", "-group-max-session-timeout duration", "(default 30m0s)"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("--help does not say %q:\n%s", want, stderr.String())
		}
	}
}
