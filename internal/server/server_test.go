package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
)

// testLogger sends server logs to t.Log so failures show them.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startNode(t *testing.T) string {
	t.Helper()
	_, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return url
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func TestHealthAndRoot(t *testing.T) {
	url := startNode(t)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n", "/": "{}"} {
		code, body, _ := get(t, url+path)
		if code != 200 || strings.TrimSpace(body) != strings.TrimSpace(want) {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}
	code, body, _ := get(t, url+"/no/such/path")
	if code != 404 || !strings.Contains(body, `"error_code":404`) {
		t.Errorf("unknown path = %d %q, want the 404 envelope", code, body)
	}
}

// TestReflection lists the services over gRPC reflection, as grpcurl does.
func TestReflection(t *testing.T) {
	url := startNode(t)
	// Reflection is a bidirectional stream: it needs HTTP/2 (h2c here).
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	client := grpcreflect.NewClient(h2c, url, connect.WithGRPC())
	stream := client.NewStream(context.Background())
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names {
		got[string(n)] = true
	}
	for _, want := range []string{"sluice.registry.v1.RegistryService", "sluice.broker.v1.TopicService", "sluice.broker.v1.BrokerService"} {
		if !got[want] {
			t.Errorf("reflection does not list %s (got %v)", want, names)
		}
	}
}

// TestReopen checks that a node reopens its own data directory.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		_, _, stop, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if err := stop(); err != nil {
			t.Fatalf("stop %d: %v", i, err)
		}
	}
}

// TestContextPrefix checks that the Confluent default-context URL form reaches
// the REST API rather than a ServeMux path-cleaning redirect.
func TestContextPrefix(t *testing.T) {
	url := startNode(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url + "/contexts/./subjects")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
		t.Errorf("GET /contexts/./subjects = %d %q, want 200 []", resp.StatusCode, body)
	}
}
