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

// rules: packages matching the pattern must not depend, even indirectly, on
// any package with one of the forbidden prefixes.
var rules = []struct {
	pattern   string
	forbidden []string
	why       string
}{
	{module + "/serde/...", []string{module + "/broker", module + "/registry", module + "/client"},
		"serde is pure bytes and schemas; the registry and broker build on it, not the reverse"},
	{module + "/registry/compat/...", []string{module + "/registry/internal", module + "/registry/rest", module + "/registry/rpc", module + "/broker"},
		"compatibility rules are pure functions that `sluice schema check` runs with no server"},
	{module + "/registry", []string{module + "/broker", module + "/registry/rest", module + "/registry/rpc", "net/http", "connectrpc.com/connect"},
		"the registry core knows nothing of its transports"},
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pattern).Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				t.Fatalf("go list %s: %v\n%s", r.pattern, err, ee.Stderr)
			}
			t.Fatalf("go list %s: %v", r.pattern, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			dep := sc.Text()
			for _, f := range r.forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s depends on %s: %s", r.pattern, dep, r.why)
				}
			}
		}
	}
}
