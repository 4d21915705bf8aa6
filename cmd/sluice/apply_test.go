package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/server"
)

// apServer starts a real Sluice node (registry and broker) on loopback with
// a temporary data directory and returns its URL.
func apServer(t *testing.T) string {
	t.Helper()
	_, url, stop, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir()}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
	})
	return url
}

// apProxy serves a reverse proxy to addr in which intercept may answer a
// request itself (returning true) before it is passed on.
func apProxy(t *testing.T, addr string, intercept func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// apTranscript runs commands in-process and records them for a golden
// file, with the server's address and temporary folders replaced.
type apTranscript struct {
	t        *testing.T
	replacer *strings.Replacer
	sb       strings.Builder
}

func newAPTranscript(t *testing.T, pairs ...string) *apTranscript {
	return &apTranscript{t: t, replacer: strings.NewReplacer(pairs...)}
}

// run runs one command, checks its exit code and returns its stdout.
func (tr *apTranscript) run(wantCode int, args ...string) string {
	tr.t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, args, strings.NewReader(""), &out, &errb)
	if code != wantCode {
		tr.t.Errorf("sluice %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errb.String())
	}
	fmt.Fprintf(&tr.sb, "$ sluice %s\n", tr.replacer.Replace(strings.Join(args, " ")))
	tr.sb.WriteString(btTopicID.ReplaceAllString(tr.replacer.Replace(out.String()), "${1}TOPIC-ID"))
	if errb.Len() > 0 {
		for _, line := range strings.SplitAfter(strings.TrimSuffix(tr.replacer.Replace(errb.String()), "\n"), "\n") {
			tr.sb.WriteString("[stderr] " + line)
		}
		tr.sb.WriteString("\n")
	}
	fmt.Fprintf(&tr.sb, "[exit %d]\n\n", code)
	return out.String()
}

// apOrder is order.avsc with a note field added and total of the given type.
func apOrder(total string) string {
	return `{
  "type": "record",
  "name": "Order",
  "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "total", "type": "` + total + `"},
    {"name": "ship_to", "type": "Address"},
    {"name": "note", "type": "string", "default": ""}
  ]
}
`
}

func apWrite(t *testing.T, dir, file, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApply applies the example manifest (Avro with a reference to another
// file, Protobuf importing another .proto, JSON Schema with a $ref) to a
// real node: dry-run changes nothing, apply creates everything in
// dependency order, a second apply changes nothing, a config change is
// altered in place, and an incompatible schema or fewer partitions are
// refused before anything changes; more partitions are added.
func TestApply(t *testing.T) {
	addr := apServer(t)
	dir := ckCopy(t, nil)
	mf := filepath.Join(dir, "sluice.yaml")
	tr := newAPTranscript(t, addr, "ADDR", dir, "DIR")

	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--dry-run")
	if out := tr.run(0, "schema", "list", "--addr", addr); strings.TrimSpace(out) != "" && !strings.Contains(out, "no subjects") {
		t.Errorf("dry run registered something: %q", out)
	}
	tr.run(0, "topic", "list", "--addr", addr)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	if out := tr.run(0, "apply", "--manifest", mf, "--addr", addr); !strings.Contains(out, "No changes") {
		t.Errorf("second apply: %q", out)
	}
	tr.run(0, "schema", "get", "orders-value", "--addr", addr)

	// A config change is altered in place; dry-run first shows it.
	yaml, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	// So is a subject's level.
	changed := strings.Replace(string(yaml), `retention.ms: "604800000"`, `retention.ms: "86400000"`, 1)
	changed = strings.Replace(changed, "compatibility: FULL", "compatibility: FULL_TRANSITIVE", 1)
	apWrite(t, dir, "sluice.yaml", changed)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--dry-run")
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)

	// An evolution that keeps FULL compatibility registers a new version.
	apWrite(t, dir, "schemas/order.avsc", apOrder("double"))
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)

	// Incompatible under FULL, together with a topic change: refused as a
	// whole, nothing changes.
	apWrite(t, dir, "schemas/order.avsc", apOrder("long"))
	apWrite(t, dir, "sluice.yaml", strings.Replace(string(yaml), `retention.ms: "604800000"`, `retention.ms: "3600000"`, 1))
	tr.run(1, "apply", "--manifest", mf, "--addr", addr)
	tr.run(0, "topic", "describe", "orders", "--addr", addr)

	// Fewer partitions are refused. The schema is version 2 again, written
	// differently: the registry's lookup still finds it.
	apWrite(t, dir, "schemas/order.avsc", `{"type": "record", "name": "Order", "namespace": "com.acme",
  "fields": [{"name": "id", "type": "string"}, {"name": "total", "type": "double"}, {"name": "ship_to", "type": "Address"}, {"name": "note", "type": "string", "default": ""}]}`)
	apWrite(t, dir, "sluice.yaml", strings.Replace(strings.Replace(string(yaml), `retention.ms: "604800000"`, `retention.ms: "86400000"`, 1), "partitions: 3", "partitions: 2", 1))
	tr.run(1, "apply", "--manifest", mf, "--addr", addr)
	tr.run(1, "apply", "--manifest", mf, "--addr", addr, "--output", "json")

	// More partitions are added (CreatePartitions), with a config change in
	// the same step; a second apply then has nothing to do.
	apWrite(t, dir, "sluice.yaml", strings.Replace(strings.Replace(changed, `retention.ms: "86400000"`, `retention.ms: "3600000"`, 1), "partitions: 3", "partitions: 4", 1))
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--dry-run")
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	if out := tr.run(0, "topic", "describe", "orders", "--addr", addr); !strings.Contains(out, "Partitions: 4") || !strings.Contains(out, "retention.ms") {
		t.Errorf("after apply raised the partitions: %q", out)
	}
	if out := tr.run(0, "apply", "--manifest", mf, "--addr", addr); !strings.Contains(out, "No changes") {
		t.Errorf("apply after raising the partitions: %q", out)
	}

	// Usage errors.
	tr.run(2, "apply", "--manifest", filepath.Join(dir, "nope.yaml"), "--addr", addr)
	tr.run(2, "apply", "extra", "--addr", addr)
	tr.run(1, "apply", "--manifest", mf, "--addr", "http://127.0.0.1:1")

	golden.Check(t, filepath.Join("testdata", "apply.golden"), tr.sb.String())
}

// TestApplyRegistryRefuses has the registry refuse a registration that the
// local rules let through (as a registry with other rules might): apply
// stops there, prints the registry's violations and says how far it got.
func TestApplyRegistryRefuses(t *testing.T) {
	addr := apServer(t)
	reg := apProxy(t, addr, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.EscapedPath() != "/subjects/orders-value/versions" {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"orders-value\"; version 1: /fields/0: reserved name [NAME_RESERVED]"}`))
		return true
	})
	dir := ckCopy(t, nil)
	tr := newAPTranscript(t, reg, "REGISTRY", addr, "ADDR", dir, "DIR")
	tr.run(1, "apply", "--manifest", filepath.Join(dir, "sluice.yaml"), "--addr", addr, "--registry", reg)
	// The subject's level change was undone: it inherits again.
	tr.run(0, "schema", "config", "orders-value", "--addr", addr)
	golden.Check(t, filepath.Join("testdata", "apply_refused.golden"), tr.sb.String())
}

// TestApplyLowersLevel: a lowered compatibility level is a change ("~")
// in the plan, also where the subject inherited the higher level, and
// apply warns about the guarantees it drops; raising a level is not
// warned about.
func TestApplyLowersLevel(t *testing.T) {
	addr := apServer(t)
	dir := ckCopy(t, nil)
	mf := filepath.Join(dir, "sluice.yaml")
	tr := newAPTranscript(t, addr, "ADDR", dir, "DIR")
	yaml, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	// The global level is FULL_TRANSITIVE: the manifest lowers every
	// subject it names from the level they inherit.
	tr.run(0, "schema", "config", "--set", "FULL_TRANSITIVE", "--addr", addr)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--dry-run")
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	// orders: FULL to FORWARD lowers, the rest from BACKWARD to
	// FULL_TRANSITIVE raises.
	changed := strings.Replace(string(yaml), "compatibility: FULL", "compatibility: FORWARD", 1)
	changed = strings.Replace(changed, "compatibility: BACKWARD", "compatibility: FULL_TRANSITIVE", 1)
	apWrite(t, dir, "sluice.yaml", changed)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr, "--dry-run", "--output", "json")
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	tr.run(0, "apply", "--manifest", mf, "--addr", addr)
	golden.Check(t, filepath.Join("testdata", "apply_lowered.golden"), tr.sb.String())
}
