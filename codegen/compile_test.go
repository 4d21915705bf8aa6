package codegen_test

import (
	"context"
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
	_ "github.com/sluicehq/sluice/client/clienttest"
	_ "github.com/sluicehq/sluice/client/jsonschema"
	_ "github.com/sluicehq/sluice/client/primitive"
	_ "github.com/sluicehq/sluice/client/protobuf"
)

// TestGeneratedCodeEndToEnd writes the generated code of every format into
// a temporary module (with a replace directive to this repository and its
// go.sum, offline: GOPROXY=off), with protoc-gen-go's output for the
// Protobuf files and a hand-written test per format
// (testdata/<format>/e2e_test.go.txt) that produces and consumes typed
// values through clienttest. It then runs go vet and go test there: the
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
	goMod := "module example.com/gentest\n\ngo 1.26.8\n\nrequire github.com/sluicehq/sluice v0.0.0\n\nreplace github.com/sluicehq/sluice => " + root + "\n"
	write("go.mod", []byte(goMod))
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
