package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/sluicehq/sluice/internal/datadir"
	"github.com/sluicehq/sluice/internal/pgtest"
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

// TestDataDirLocked: a second server on a data directory that a running
// server holds refuses to start, naming the directory, the holder's pid and
// its address; once the first stops, the directory opens again.
func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	_, url, stop, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, _, stop2, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
	if err == nil {
		stop2()
		stop()
		t.Fatal("a second server opened a data directory the first holds")
	}
	for _, want := range []string{"data directory " + dir + " is in use", fmt.Sprintf("pid %d", os.Getpid()), "serving " + strings.TrimPrefix(url, "http://")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if !errors.Is(err, datadir.ErrLocked) {
		t.Errorf("error %v is not datadir.ErrLocked", err)
	}
	// The refused server touched nothing: the first still serves.
	if code, _, _ := get(t, url+"/readyz"); code != 200 {
		t.Errorf("first server /readyz = %d after the refusal", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, _, stop, err = Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("reopen after the holder stopped: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// holderEnv makes the test binary, re-executed, serve the data directory it
// names and print its URL, until it is killed.
const holderEnv = "SLUICE_SERVER_TEST_HOLDER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		_, url, _, err := Start(context.Background(), Config{DataDir: dir}, "127.0.0.1:0")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(url)
		select {}
	}
	pgtest.Main(m) // runs the tests, then stops the PostgreSQL server of cluster_test.go
}

// TestDataDirKilledHolder: a server in another process holds the data
// directory; a server here is refused naming that pid and address; after
// the holder is killed with SIGKILL (no chance to clean up) the directory
// opens at once: the kernel released the lock with the process.
func TestDataDirKilledHolder(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		t.Fatalf("holder said %q, %v", line, err)
	}
	holderAddr := strings.TrimPrefix(strings.TrimSpace(line), "http://")

	_, _, stop, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
	if err == nil {
		stop()
		t.Fatal("opened a data directory another process serves")
	}
	if want := fmt.Sprintf("pid %d serving %s", cmd.Process.Pid, holderAddr); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	_, url, stop, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("open after the holder was killed: %v", err)
	}
	if code, _, _ := get(t, url+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
