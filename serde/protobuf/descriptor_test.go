package protobuf

import (
	"context"
	"encoding/base64"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicehq/sluice/serde"
)

// compileAlone compiles text (as main.proto) with refs and the bundled
// files straight through protocompile, independently of Parse.
func compileAlone(t *testing.T, text string, refs map[string]string) linker.Result {
	t.Helper()
	wk, err := bundled()
	if err != nil {
		t.Fatal(err)
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		switch {
		case p == "main.proto":
			return protocompile.SearchResult{Source: strings.NewReader(text)}, nil
		case refs[p] != "":
			return protocompile.SearchResult{Source: strings.NewReader(refs[p])}, nil
		case wk[p] != nil:
			return protocompile.SearchResult{Desc: wk[p]}, nil
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
		if err != nil {
			return protocompile.SearchResult{}, fs.ErrNotExist
		}
		return protocompile.SearchResult{Desc: fd}, nil
	}))}
	files, err := c.Compile(context.Background(), "main.proto")
	if err != nil {
		t.Fatalf("protocompile: %v", err)
	}
	return files[0].(linker.Result)
}

// decodedOptions re-reads fdp with the extensions of types, so that custom
// options compare by value whatever bytes order the compiler kept.
func decodedOptions(t *testing.T, fdp *descriptorpb.FileDescriptorProto, types *protoregistry.Types) proto.Message {
	t.Helper()
	fdp = proto.Clone(fdp).(*descriptorpb.FileDescriptorProto)
	fdp.Name = nil
	fdp.SourceCodeInfo = nil
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	if err != nil {
		return fdp
	}
	m := dynamicpb.NewMessage(fdp.ProtoReflect().Descriptor())
	if err := (proto.UnmarshalOptions{Resolver: types}).Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFileDescriptorProto checks, over the corpus, that FileDescriptorProto
// is what protocompile makes of the schema as the user wrote it (the stored
// text re-prints it, so this also holds for the stored text), with no
// source info and the file's path as name, and that its base64 form, which
// Confluent clients send and receive as format=serialized, parses back to
// the same schema.
func TestFileDescriptorProto(t *testing.T) {
	for name, text := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, text)
			got := s.FileDescriptorProto()
			if got.GetName() != s.File().Path() || got.SourceCodeInfo != nil {
				t.Errorf("name %q, source info %v; want %q and none", got.GetName(), got.SourceCodeInfo != nil, s.File().Path())
			}
			want := compileAlone(t, text, nil)
			types := extensionTypes(s.File())
			if d := cmp.Diff(decodedOptions(t, want.FileDescriptorProto(), types), decodedOptions(t, got, types), protocmp.Transform()); d != "" {
				t.Errorf("descriptor differs from protocompile's (-want +got):\n%s", d)
			}

			// The message is the caller's: changing it changes nothing here.
			s.FileDescriptorProto().Package = proto.String("changed")
			if s.FileDescriptorProto().GetPackage() == "changed" {
				t.Error("FileDescriptorProto returned shared state")
			}

			switch name {
			case "utf8_options.proto":
				// A proto3 string option holding invalid UTF-8 compiles but
				// does not marshal; the registry refuses to serialize it.
				return
			case "messageset_proto2.proto":
				// The runtime, which links binary input, refuses MessageSet.
				return
			}
			b, err := proto.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(base64.StdEncoding.EncodeToString(b), nil)
			if err != nil {
				t.Fatalf("Parse(base64 of FileDescriptorProto): %v", err)
			}
			if back.Canonical() != s.Canonical() {
				t.Errorf("base64 form parses to\n%s\nwant\n%s", back.Canonical(), s.Canonical())
			}

		})
	}
}

// TestFileDescriptorProtoReferences checks a schema with references:
// dependencies are the import paths (the reference names), types from
// them are fully qualified, and a client can link the file against the
// references' own descriptors, as Confluent's deserializers do.
func TestFileDescriptorProtoReferences(t *testing.T) {
	money := "syntax = \"proto3\";\npackage acme.common;\nmessage Money {\n  string currency = 1;\n  int64 units = 2;\n}\n"
	text := `syntax = "proto3";
package acme.shop;
import "acme/common/money.proto";
import "google/protobuf/timestamp.proto";
message Order {
  string id = 1;
  acme.common.Money total = 2;
  google.protobuf.Timestamp at = 3;
}
`
	dep, err := Parse(money, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(text, []serde.Referenced{{Name: "acme/common/money.proto", Text: money}})
	if err != nil {
		t.Fatal(err)
	}
	fdp := s.FileDescriptorProto()
	if want := []string{"acme/common/money.proto", "google/protobuf/timestamp.proto"}; !slices.Equal(fdp.GetDependency(), want) {
		t.Errorf("dependencies %q, want %q", fdp.GetDependency(), want)
	}
	if tn := fdp.GetMessageType()[0].GetField()[1].GetTypeName(); tn != ".acme.common.Money" {
		t.Errorf("total's type name %q, want .acme.common.Money", tn)
	}
	want := compileAlone(t, text, map[string]string{"acme/common/money.proto": money})
	if d := cmp.Diff(decodedOptions(t, want.FileDescriptorProto(), nil), decodedOptions(t, fdp, nil), protocmp.Transform()); d != "" {
		t.Errorf("descriptor differs from protocompile's (-want +got):\n%s", d)
	}

	// Link as a client would: the reference under its name, the main file
	// under any name.
	ref := dep.FileDescriptorProto()
	ref.Name = proto.String("acme/common/money.proto")
	fdp.Name = proto.String("default")
	if _, err := linkDescriptors(ref, fdp); err != nil {
		t.Fatalf("linking the descriptors as a client does: %v", err)
	}
}

// TestWithoutExtensions checks Confluent's ignore_extensions form: extend
// blocks (a group extension's message with them), extension ranges and
// custom options go, confluent.* options and everything else stay.
func TestWithoutExtensions(t *testing.T) {
	text := `syntax = "proto2";
package acme;
import "google/protobuf/descriptor.proto";
import "confluent/meta.proto";
option (file_tag) = "x";
option java_package = "com.acme";
extend google.protobuf.FileOptions {
  optional string file_tag = 50001;
}
extend google.protobuf.FieldOptions {
  optional int32 weight = 50002;
}
message Order {
  option (confluent.message_meta).doc = "an order";
  optional string id = 1 [(weight) = 3, (confluent.field_meta).doc = "the id", deprecated = true];
  extensions 100 to 199;
  extend Order {
    optional int32 rank = 100;
  }
  message Line {
    optional int32 qty = 1;
  }
}
extend Order {
  optional group Note = 101 {
    optional string text = 1;
  }
}
message After {
  optional Order.Line line = 1;
}
`
	s := mustParse(t, text)
	want := `syntax = "proto2";

package acme;

import "google/protobuf/descriptor.proto";
import "confluent/meta.proto";

option java_package = "com.acme";

message Order {
  option (confluent.message_meta).doc = "an order";
  optional string id = 1 [deprecated = true, (confluent.field_meta).doc = "the id"];
  message Line {
    optional int32 qty = 1;
  }
}

message After {
  optional Order.Line line = 1;
}
`
	got := s.WithoutExtensions()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("WithoutExtensions (-want +got):\n%s", d)
	}
	if _, err := Parse(got, nil); err != nil {
		t.Errorf("the text does not parse: %v", err)
	}

	// Without extensions to drop, it is the Canonical text.
	plain := mustParse(t, "syntax = \"proto3\";\npackage a;\nmessage M {\n  string s = 1 [json_name = \"S\"];\n}\n")
	if plain.WithoutExtensions() != plain.Canonical() {
		t.Errorf("WithoutExtensions = %q, want the Canonical %q", plain.WithoutExtensions(), plain.Canonical())
	}
}

// linkDescriptors builds main against ref and the runtime's timestamp.proto
// with the protobuf runtime, as a client's descriptor pool does.
func linkDescriptors(ref, main *descriptorpb.FileDescriptorProto) (protoreflect.FileDescriptor, error) {
	files := &protoregistry.Files{}
	ts, err := protoregistry.GlobalFiles.FindFileByPath("google/protobuf/timestamp.proto")
	if err != nil {
		return nil, err
	}
	if err := files.RegisterFile(ts); err != nil {
		return nil, err
	}
	rfd, err := protodesc.NewFile(ref, files)
	if err != nil {
		return nil, err
	}
	if err := files.RegisterFile(rfd); err != nil {
		return nil, err
	}
	return protodesc.NewFile(main, files)
}
