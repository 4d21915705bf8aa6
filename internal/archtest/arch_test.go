// Package archtest holds tests of the repository's architecture: the import
// rules of DESIGN.md §2, enforced with `go list` so a violation fails CI.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sluicehq/sluice"

// rules: packages matching the pattern, less those under an except prefix,
// must not depend, even indirectly, on any package with one of the
// forbidden prefixes.
var rules = []struct {
	pattern   string
	except    []string
	forbidden []string
	why       string
}{
	{module + "/serde/...", nil, []string{module + "/broker", module + "/registry", module + "/client"},
		"serde is pure bytes and schemas; the registry and broker build on it, not the reverse"},
	{module + "/registry/compat/...", nil, []string{module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc", module + "/broker"},
		"compatibility rules are pure functions that `sluice schema check` runs with no server"},
	{module + "/registry", nil, []string{module + "/broker", module + "/registry/rest", module + "/registry/rpc", "net/http", "connectrpc.com/connect"},
		"the registry core knows nothing of its transports"},
	{module + "/client/...", []string{module + "/client/clienttest"},
		[]string{module + "/broker", module + "/registry", module + "/server"},
		"the client runtime talks to a server over the wire only; client/clienttest alone starts one in process"},
	{module + "/loadgen/...", nil, []string{module + "/cmd", module + "/server", module + "/broker", module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc"},
		"the load generator drives a server over the wire; the caller wires an in-process server (loadgen.StartFunc)"},
	{module + "/srclient/...", nil, []string{module + "/cmd", module + "/server", module + "/broker", module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc"},
		"the registry REST client talks HTTP to any Confluent-compatible registry"},
	{module + "/evolution/...", nil, []string{module + "/cmd", module + "/server", module + "/broker", module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc"},
		"the schema-evolution engine reads registries and brokers over their wire APIs, so that CI and the console can run it anywhere"},
	{module + "/console/...", nil, []string{module + "/cmd", module + "/server", module + "/broker", module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc", module + "/acl", module + "/auth"},
		"the web console reads and changes a node through its public APIs only (in process, under the same authorization as any client)"},
	{module + "/connect/...", nil, []string{module + "/cmd", module + "/server", module + "/broker", module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc"},
		"connectors read and write topics through the typed client over the wire, like any user's program"},
	{module + "/internal/...", []string{module + "/internal/archtest"}, []string{module + "/server", module + "/cmd", module + "/broker", module + "/client", module + "/registry/rest", module + "/registry/rpc"},
		"internal/ is the bottom of the house (meta.db, the data-directory lock, golden files): the cores import it, never the reverse; the node's wiring is package server, at the top"},
	{module + "/broker/...", nil, []string{module + "/server", module + "/cmd"},
		"the broker and its transports are wired into a node by package server, not the reverse"},
	{module + "/registry/...", nil, []string{module + "/server", module + "/cmd"},
		"the registry and its transports are wired into a node by package server, not the reverse"},
	{module + "/broker/...", nil, []string{module + "/metrics", "github.com/prometheus/"},
		"the broker counts with atomics and the metrics package reads them at scrape time (broker/stats.go); no Prometheus on the hot paths"},
	{module + "/registry/...", nil, []string{module + "/metrics", "github.com/prometheus/"},
		"the registry is counted at scrape time by package metrics, not the reverse"},
	{module + "/metrics/...", nil, []string{module + "/server", module + "/cmd"},
		"package metrics is wired into a node by package server, not the reverse"},
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	for _, r := range rules {
		pkgs := []string{r.pattern}
		if len(r.except) > 0 {
			pkgs = nil
			for _, p := range goList(t, r.pattern) {
				if !hasPrefix(p, r.except) {
					pkgs = append(pkgs, p)
				}
			}
			if len(pkgs) == 0 {
				t.Fatalf("%s: no package left once %v are excepted", r.pattern, r.except)
			}
		}
		for _, dep := range goList(t, append([]string{"-deps"}, pkgs...)...) {
			if hasPrefix(dep, r.forbidden) {
				t.Errorf("%s depends on %s: %s", r.pattern, dep, r.why)
			}
		}
	}
}

// goList runs go list with args and returns the import paths it prints.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("go list %v: %v", args, err)
	}
	var pkgs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		pkgs = append(pkgs, sc.Text())
	}
	return pkgs
}

// hasPrefix reports whether p is one of prefixes or a package under one.
func hasPrefix(p string, prefixes []string) bool { return forbiddenPrefix(p, prefixes) != "" }

// forbiddenPrefix returns the prefix p is, or is under, or "".
func forbiddenPrefix(p string, prefixes []string) string {
	for _, f := range prefixes {
		if p == f || strings.HasPrefix(p, f+"/") {
			return f
		}
	}
	return ""
}
