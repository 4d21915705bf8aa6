package codegen

import (
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// ProtoRequest compiles .proto files with protocompile, as protoc would,
// and returns the CodeGeneratorRequest protoc would send a plugin to
// generate them: files are paths inside fsys, which is also the import
// root; the google/protobuf well-known files are built in. parameter is
// the plugin parameter ("paths=source_relative,...").
//
// `sluice gen` uses it to run the same generator as protoc-gen-sluice-go
// without protoc; tests use it to drive plugins.
func ProtoRequest(ctx context.Context, fsys fs.FS, files []string, parameter string) (*pluginpb.CodeGeneratorRequest, error) {
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) { return fsys.Open(path) },
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, fmt.Errorf("compile .proto files: %w", err)
	}
	// No CompilerVersion: there is no protoc, and plugins print "(unknown)".
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	if parameter != "" {
		req.Parameter = proto.String(parameter)
	}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(fd)
		req.ProtoFile = append(req.ProtoFile, fdp)
		if isTarget(files, fd.Path()) {
			req.SourceFileDescriptors = append(req.SourceFileDescriptors, proto.Clone(fdp).(*descriptorpb.FileDescriptorProto))
		}
	}
	for _, f := range compiled {
		add(f)
	}
	return req, nil
}

func isTarget(files []string, path string) bool {
	for _, f := range files {
		if f == path {
			return true
		}
	}
	return false
}
