package protobuf

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzParse: arbitrary text never panics and never fails internally; what
// Parse accepts, its Canonical form is accepted too, is a fixed point, keeps
// every message index, and the Normalized form re-parses.
func FuzzParse(f *testing.F) {
	for _, text := range corpus(f) {
		f.Add(text)
		if s, err := Parse(text, nil); err == nil {
			if b, err := proto.Marshal(s.File().(linker.Result).FileDescriptorProto()); err == nil {
				f.Add(base64.StdEncoding.EncodeToString(b))
			}
		}
	}
	for _, c := range invalidCases {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse(text, nil)
		if err != nil {
			if errors.Is(err, errInternal) {
				t.Fatalf("internal error: %v", err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		c, err := Parse(s.Canonical(), nil)
		if err != nil {
			t.Fatalf("Canonical does not re-parse: %v\n%s", err, s.Canonical())
		}
		if c.Canonical() != s.Canonical() {
			t.Fatalf("Canonical is not a fixed point:\n%s\n---\n%s", s.Canonical(), c.Canonical())
		}
		for name, path := range s.indexes {
			if got, err := c.IndexesOf(string(name)); err != nil || len(got) != len(path) {
				t.Fatalf("%s: index %v lost in Canonical (%v, %v)", name, path, got, err)
			}
			for i := range path {
				if c.indexes[name][i] != path[i] {
					t.Fatalf("%s: index %v became %v in Canonical", name, path, c.indexes[name])
				}
			}
		}
		if _, err := Parse(s.Normalized(), nil); err != nil {
			t.Fatalf("Normalized does not re-parse: %v\n%s", err, s.Normalized())
		}
		// The other served forms never panic; without extensions to drop the
		// text is the Canonical one.
		if s.FileDescriptorProto().GetName() != s.File().Path() {
			t.Fatalf("FileDescriptorProto is named %q, not %q", s.FileDescriptorProto().GetName(), s.File().Path())
		}
		if w := s.WithoutExtensions(); !hasExtensions(s.File()) && w != s.Canonical() {
			t.Fatalf("WithoutExtensions of a file without extensions:\n%s\n---\n%s", w, s.Canonical())
		}
	})
}

// FuzzMessageByIndexes: arbitrary paths never panic; a path either names a
// message whose own path is the path, or fails with ErrNoSuchMessage.
func FuzzMessageByIndexes(f *testing.F) {
	s := mustParse(f, shopFile)
	f.Add([]byte{0})
	f.Add([]byte{1, 0})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{0xff, 0x80})
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Each byte, read as int8, is one element, so negatives occur too.
		path := make([]int, len(raw))
		for i, b := range raw {
			path[i] = int(int8(b))
		}
		md, err := s.MessageByIndexes(path)
		if err != nil {
			if !errors.Is(err, ErrNoSuchMessage) {
				t.Fatalf("MessageByIndexes(%v): %v does not wrap ErrNoSuchMessage", path, err)
			}
			return
		}
		want := path
		if len(want) == 0 {
			want = []int{0}
		}
		got, err := s.IndexesOf(string(md.FullName()))
		if err != nil || len(got) != len(want) {
			t.Fatalf("MessageByIndexes(%v) = %s, whose path is %v (%v)", path, md.FullName(), got, err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("MessageByIndexes(%v) = %s, whose path is %v", path, md.FullName(), got)
			}
		}
	})
}

// hasExtensions reports whether fd declares extensions or extension ranges
// or sets a custom option anywhere, conservatively: any import may define
// options, so a file with imports counts.
func hasExtensions(fd protoreflect.FileDescriptor) bool {
	if fd.Extensions().Len() > 0 || fd.Imports().Len() > 0 {
		return true
	}
	for _, m := range allMessages(fd) {
		if m.Extensions().Len() > 0 || m.ExtensionRanges().Len() > 0 {
			return true
		}
	}
	return false
}
