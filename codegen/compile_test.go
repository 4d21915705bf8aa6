package codegen_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"

	"github.com/sluicehq/sluice/codegen"

	// The temporary module builds these from this repository; importing
	// them here makes go test's cache key cover their sources, so a change
	// in the runtime reruns this test instead of reusing a stale pass.
	_ "github.com/sluicehq/sluice/client/avro"
	_ "github.com/sluicehq/sluice/client/jsonschema"
	_ "github.com/sluicehq/sluice/client/primitive"
	_ "github.com/sluicehq/sluice/client/protobuf"
	_ "github.com/sluicehq/sluice/sluicetest"
)

// TestGeneratedCodeEndToEnd writes the generated code of every format into
// a temporary module (see scratchGoMod; offline: GOPROXY=off), with
// protoc-gen-go's output for the
// Protobuf files and a hand-written test per format
// (testdata/<format>/e2e_test.go.txt) that produces and consumes typed
// values through sluicetest. It then runs go vet and go test there: the
// generated code compiles, and works end to end.
func TestGeneratedCodeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a module: not in -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, content []byte) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mainMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goMod, err := scratchGoMod(mainMod, root)
	if err != nil {
		t.Fatal(err)
	}
	write("go.mod", goMod)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", sum)

	for _, format := range []string{"avro", "jsonschema", "protobuf"} {
		f := generate(t, format, format+"gen")
		write(format+"gen/"+f.Name, f.Content)
		test, err := os.ReadFile(filepath.Join("testdata", format, "e2e_test.go.txt"))
		if err != nil {
			t.Fatal(err)
		}
		write(format+"gen/e2e_test.go", test)
	}

	// protoc-gen-go's output for the Protobuf schemas, without protoc.
	req, err := codegen.ProtoRequest(context.Background(), os.DirFS("testdata/protobuf"), []string{"schemas/money.proto", "schemas/payment.proto"}, "")
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range plugin.Files {
		if f.Generate {
			gengo.GenerateFile(plugin, f)
		}
	}
	for _, f := range plugin.Response().File {
		write(strings.TrimPrefix(f.GetName(), "example.com/gentest/"), []byte(f.GetContent()))
	}

	// protoc-gen-sluice-go's and protoc-gen-go's output for the plugin test
	// file, with its end-to-end test.
	for name, content := range pluginFiles(t, true) {
		write(strings.TrimPrefix(name, "example.com/gentest/"), []byte(content))
	}
	test, err := os.ReadFile(filepath.Join("testdata", "plugin", "e2e_test.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	write("orderspb/e2e_test.go", test)

	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
	}
	run("vet", "./...")
	run("test", "-count=1", "./...")
}

// scratchGoMod returns the go.mod of the temporary module: this module's
// go.mod (its go version and every requirement, direct and indirect) under
// another module path, requiring this module by a replace directive to root.
//
// Copying the requirements is what lets the test run offline on a new
// machine: the temporary module's module graph is then the same as this
// module's, so the go command needs no go.mod file and no module that
// `go test` here has not already downloaded. With only a requirement on this
// module it had to walk the dependencies' own go.mod files (protocompile's
// requirement on go-spew, ...), which nothing had downloaded, and failed
// with "module lookup disabled by GOPROXY=off" until `go mod download` ran.
// The modules the generated code builds from are the ones this test binary
// imports (see the imports above), so their sources are in the cache too.
func scratchGoMod(mainMod []byte, root string) ([]byte, error) {
	var out strings.Builder
	replaced := false
	for i, line := range strings.Split(string(mainMod), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "module":
			if fields[1] != "github.com/sluicehq/sluice" {
				return nil, fmt.Errorf("go.mod:%d: module %s, want github.com/sluicehq/sluice", i+1, fields[1])
			}
			out.WriteString("module example.com/gentest\n")
			replaced = true
			continue
		case len(fields) > 0 && (fields[0] == "replace" || fields[0] == "exclude" || fields[0] == "retract" || fields[0] == "tool" || fields[0] == "godebug"):
			// A relative replace would point elsewhere from the temporary
			// module; refuse rather than build something else.
			return nil, fmt.Errorf("go.mod:%d: %q: the end-to-end test does not carry %s directives over to its temporary module", i+1, line, fields[0])
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if !replaced {
		return nil, errors.New("go.mod: no module line")
	}
	fmt.Fprintf(&out, "\nrequire github.com/sluicehq/sluice v0.0.0\n\nreplace github.com/sluicehq/sluice => %s\n", root)
	return []byte(out.String()), nil
}
