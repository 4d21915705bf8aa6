package codegen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"

	"github.com/sluicehq/sluice/codegen"
	"github.com/sluicehq/sluice/internal/golden"
	"github.com/sluicehq/sluice/manifest"
)

// generate runs FromManifest on testdata/<dir>/sluice.yaml.
func generate(t *testing.T, dir, pkg string) *codegen.File {
	t.Helper()
	fsys := os.DirFS(filepath.Join("testdata", dir))
	m, err := manifest.Load(fsys, "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := m.Resolve(fsys)
	if err != nil {
		t.Fatal(err)
	}
	f, err := codegen.FromManifest(set, codegen.Config{Package: pkg, Source: "sluice.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGolden: the generated code per format, reviewed once and kept in
// testdata/<format>/sluice_gen.go.golden (rerun with -update).
func TestGolden(t *testing.T) {
	for _, dir := range []string{"avro", "jsonschema", "protobuf"} {
		t.Run(dir, func(t *testing.T) {
			f := generate(t, dir, dir+"gen")
			golden.Check(t, filepath.Join("testdata", dir, f.Name+".golden"), string(f.Content))
		})
	}
}

// pluginFiles runs GenerateProto (and, with pbgo, protoc-gen-go's
// generator) on testdata/plugin/orders/v1/orders.proto.
func pluginFiles(t *testing.T, pbgo bool) map[string]string {
	t.Helper()
	req, err := codegen.ProtoRequest(context.Background(), os.DirFS("testdata/plugin"), []string{"orders/v1/orders.proto"}, "")
	if err != nil {
		t.Fatal(err)
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := codegen.GenerateProto(plugin); err != nil {
		t.Fatal(err)
	}
	if pbgo {
		for _, f := range plugin.Files {
			if f.Generate {
				gengo.GenerateFile(plugin, f)
			}
		}
	}
	res := plugin.Response()
	if res.Error != nil {
		t.Fatal(res.GetError())
	}
	out := map[string]string{}
	for _, f := range res.File {
		out[f.GetName()] = f.GetContent()
	}
	return out
}

// TestPluginGolden: protoc-gen-sluice-go's output for a file with a plain
// bound message, an envelope of three event types and an unbound message.
func TestPluginGolden(t *testing.T) {
	files := pluginFiles(t, false)
	if len(files) != 1 {
		t.Fatalf("generated %d files, want 1: %v", len(files), files)
	}
	got, ok := files["example.com/gentest/orderspb/orders.sluice.go"]
	if !ok {
		t.Fatalf("files %v", files)
	}
	golden.Check(t, "testdata/plugin/orders.sluice.go.golden", got)
}

func TestFromManifestErrors(t *testing.T) {
	fsys := os.DirFS(filepath.Join("testdata", "avro"))
	m, err := manifest.Load(fsys, "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	set, err := m.Resolve(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"", "9x", "a-b"} {
		if _, err := codegen.FromManifest(set, codegen.Config{Package: pkg}); err == nil {
			t.Errorf("package %q accepted", pkg)
		}
	}
	// Two topics whose names make the same Go identifier.
	clash, err := manifest.Parse("sluice.yaml", []byte("topics:\n  - name: a.b\n    value: {primitive: long}\n  - name: a_b\n    value: {primitive: long}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cset, err := clash.Resolve(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codegen.FromManifest(cset, codegen.Config{Package: "p"}); err == nil || !strings.Contains(err.Error(), "ABTopic") {
		t.Errorf("clash: err = %v, want it to name ABTopic", err)
	}
}
