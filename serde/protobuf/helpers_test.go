package protobuf

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/bufbuild/protocompile/linker"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// corpus returns the valid .proto files of testdata/valid by base name.
func corpus(t testing.TB) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "valid", "*.proto"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mustParse(t testing.TB, text string) *Schema {
	t.Helper()
	s, err := Parse(text, nil)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return s
}

// comparable returns the schema's descriptor in a form where two
// equivalent files compare equal: no file name or source info, and options
// decoded with the file's own extensions, so custom options compare by value
// however the compiler stored them.
func comparable(t testing.TB, s *Schema) proto.Message {
	t.Helper()
	fdp := proto.Clone(s.File().(linker.Result).FileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	fdp.Name = nil
	fdp.SourceCodeInfo = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	if err != nil {
		// Invalid UTF-8 in a proto3 string option: compare as built.
		return fdp
	}
	m := dynamicpb.NewMessage(fdp.ProtoReflect().Descriptor())
	if err := (proto.UnmarshalOptions{Resolver: extensionTypes(s.File())}).Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func diffDescriptors(t testing.TB, want, got *Schema) string {
	t.Helper()
	return cmp.Diff(comparable(t, want), comparable(t, got), protocmp.Transform())
}

// allMessages lists every message of the file, nested ones included.
func allMessages(fd protoreflect.FileDescriptor) []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			out = append(out, ms.Get(i))
			walk(ms.Get(i).Messages())
		}
	}
	walk(fd.Messages())
	return out
}
