package testpb

import (
	"context"
	"os"
	"testing"

	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"

	"github.com/sluicehq/sluice/codegen"
	"github.com/sluicehq/sluice/internal/golden"
)

// TestGenerated checks that the committed .pb.go files are what
// protoc-gen-go generates from the .proto files.
func TestGenerated(t *testing.T) {
	req, err := codegen.ProtoRequest(context.Background(), os.DirFS("."), []string{"money.proto", "order.proto"}, "paths=source_relative")
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
	res := plugin.Response()
	if res.Error != nil {
		t.Fatal(res.GetError())
	}
	for _, f := range res.File {
		golden.Check(t, f.GetName(), f.GetContent())
	}
}
