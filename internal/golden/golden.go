// Package golden compares test output with golden files and rewrites them
// when tests run with -update. Importing it registers the -update flag, so a
// test binary must not define its own.
//
//	go test ./registry/... -run TestErrors -update   # rewrite, then review the diff
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ instead of comparing with them")

// Update reports whether -update was given, for tests that write several
// golden files themselves.
func Update() bool { return *update }

// Check compares got with the file at path (usually under testdata/), or,
// with -update, writes got there, creating directories as needed.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the output (-want +got; rerun with -update and review the diff):\n%s", path, diff)
	}
}
