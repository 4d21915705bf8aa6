// Package proto_test checks that the committed generated code under proto/gen
// matches the .proto sources, so an edited .proto without `buf generate`
// fails CI. It compiles the sources with protocompile (no buf binary needed)
// and compares descriptors with the ones embedded in the generated packages.
package proto_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	clusterv1 "github.com/sluicehq/sluice/proto/gen/sluice/cluster/v1"
	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
)

func TestGeneratedCodeMatchesSources(t *testing.T) {
	generated := map[string]protoreflect.FileDescriptor{}
	for _, fd := range []protoreflect.FileDescriptor{
		brokerv1.File_sluice_broker_v1_broker_proto,
		brokerv1.File_sluice_broker_v1_topic_proto,
		brokerv1.File_sluice_broker_v1_group_proto,
		registryv1.File_sluice_registry_v1_registry_proto,
		aclv1.File_sluice_acl_v1_acl_proto,
		clusterv1.File_sluice_cluster_v1_cluster_proto,
	} {
		generated[fd.Path()] = fd
	}

	var sources []string
	err := filepath.WalkDir("sluice", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".proto") {
			sources = append(sources, filepath.ToSlash(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: func(path string) (io.ReadCloser, error) { return os.Open(path) },
		}),
	}
	files, err := compiler.Compile(context.Background(), sources...)
	if err != nil {
		t.Fatalf("compile protos: %v", err)
	}
	for _, f := range files {
		gen, ok := generated[f.Path()]
		if !ok {
			t.Errorf("%s has no generated code: run `buf generate` and register it in this test", f.Path())
			continue
		}
		want := comparable(protodesc.ToFileDescriptorProto(f))
		got := comparable(protodesc.ToFileDescriptorProto(gen))
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: generated code is stale: run `buf generate` (-source +generated):\n%s", f.Path(), diff)
		}
		delete(generated, f.Path())
	}
	for path := range generated {
		t.Errorf("generated code for %s has no source file", path)
	}
}

// comparable drops what legitimately differs: source positions and the file
// options that buf's managed mode sets (go_package, java_package, ...); the
// sources set no file options of their own.
func comparable(fd *descriptorpb.FileDescriptorProto) *descriptorpb.FileDescriptorProto {
	fd = proto.Clone(fd).(*descriptorpb.FileDescriptorProto)
	fd.SourceCodeInfo = nil
	fd.Options = nil
	return fd
}
