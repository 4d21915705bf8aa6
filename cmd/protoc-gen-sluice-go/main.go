// Command protoc-gen-sluice-go is a protoc/buf plugin that writes Sluice
// typed-client bindings (<file>.sluice.go) beside protoc-gen-go's output,
// in the same Go package, for every message bound to a topic by a comment:
//
//	// sluice:topic=orders key=string
//	message Order { ... }
//
// With buf, next to protoc-gen-go in buf.gen.yaml:
//
//	plugins:
//	  - local: protoc-gen-go
//	    out: gen
//	    opt: paths=source_relative
//	  - local: protoc-gen-sluice-go
//	    out: gen
//	    opt: paths=source_relative
//
// It takes protoc-gen-go's parameters (paths=, module=, M<file>=<import>).
// The generator is codegen.GenerateProto; see package codegen for what is
// emitted.
package main

import (
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/sluicehq/sluice/codegen"
)

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "--help" || os.Args[1] == "-h") {
		fmt.Println("protoc-gen-sluice-go: run by protoc or buf; writes <file>.sluice.go beside protoc-gen-go's output")
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "protoc-gen-sluice-go: %v\n", err)
		os.Exit(1)
	}
}

// run reads a CodeGeneratorRequest from in and writes the response to out.
func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	req := &pluginpb.CodeGeneratorRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		return fmt.Errorf("request is not a CodeGeneratorRequest: %w", err)
	}
	b, err := proto.Marshal(generate(req))
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// generate answers one request; generator errors go in the response, as
// protoc expects.
func generate(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if err := codegen.GenerateProto(plugin); err != nil {
		plugin.Error(err)
	}
	return plugin.Response()
}
