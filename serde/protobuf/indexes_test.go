package protobuf

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// shopFile is the file of spec/wire-format.md §10.3.
const shopFile = `syntax = "proto3";
package shop.v1;
message Envelope { message Meta { string k = 1; } }
enum Kind { KIND_UNSPECIFIED = 0; }
message Order { string id = 1; int64 amount = 2; message Line { string sku = 1; } }
`

// TestMessageIndexVectors uses the paths of spec/wire-format.md §10.5.
func TestMessageIndexVectors(t *testing.T) {
	s := mustParse(t, shopFile)
	tests := []struct {
		name string
		path []int
	}{
		{"shop.v1.Envelope", []int{0}},
		{"shop.v1.Envelope.Meta", []int{0, 0}},
		{"shop.v1.Order", []int{1}},
		{"shop.v1.Order.Line", []int{1, 0}},
	}
	for _, tt := range tests {
		got, err := s.IndexesOf(tt.name)
		if err != nil || !cmp.Equal(got, tt.path) {
			t.Errorf("IndexesOf(%s) = %v, %v; want %v", tt.name, got, err, tt.path)
		}
		if got, err := s.IndexesOf("." + tt.name); err != nil || !cmp.Equal(got, tt.path) {
			t.Errorf("IndexesOf(.%s) = %v, %v; want %v", tt.name, got, err, tt.path)
		}
		md, err := s.MessageByIndexes(tt.path)
		if err != nil || string(md.FullName()) != tt.name {
			t.Errorf("MessageByIndexes(%v) = %v, %v; want %s", tt.path, md, err, tt.name)
		}
	}
	if md, err := s.MessageByIndexes(nil); err != nil || md.FullName() != "shop.v1.Envelope" {
		t.Errorf("MessageByIndexes(nil) = %v, %v; want the first message (length-0 shortcut)", md, err)
	}
	if got := s.Name(); got != "shop.v1.Envelope" {
		t.Errorf("Name() = %q", got)
	}
}

func TestMessageByIndexesErrors(t *testing.T) {
	s := mustParse(t, shopFile)
	tests := []struct {
		path []int
		want string
	}{
		{[]int{2}, "protobuf: no such message: message-index path [2]: element 0 is 2, but the file has 2 messages"},
		{[]int{-1}, "protobuf: no such message: message-index path [-1]: element 0 is -1, but the file has 2 messages"},
		{[]int{1, 1}, "protobuf: no such message: message-index path [1 1]: element 1 is 1, but shop.v1.Order has 1 message"},
		{[]int{0, 0, 0}, "protobuf: no such message: message-index path [0 0 0]: element 2 is 0, but shop.v1.Envelope.Meta has 0 messages"},
	}
	for _, tt := range tests {
		_, err := s.MessageByIndexes(tt.path)
		if !errors.Is(err, ErrNoSuchMessage) {
			t.Errorf("MessageByIndexes(%v) error %v does not wrap ErrNoSuchMessage", tt.path, err)
		}
		if err == nil || err.Error() != tt.want {
			t.Errorf("MessageByIndexes(%v) = %v\nwant %s", tt.path, err, tt.want)
		}
	}
	for _, name := range []string{"shop.v1.Kind", "shop.v1.Missing", "Order", "", "google.protobuf.Timestamp"} {
		if _, err := s.IndexesOf(name); !errors.Is(err, ErrNoSuchMessage) {
			t.Errorf("IndexesOf(%q) error = %v, want ErrNoSuchMessage", name, err)
		}
	}
	empty := mustParse(t, `syntax = "proto3"; enum E { Z = 0; }`)
	if _, err := empty.MessageByIndexes([]int{0}); !errors.Is(err, ErrNoSuchMessage) {
		t.Errorf("file without messages: error %v, want ErrNoSuchMessage", err)
	}
}

// TestIndexesRoundTrip: for every message of every corpus file,
// MessageByIndexes(IndexesOf(m)) is m, and the returned slice is a copy.
func TestIndexesRoundTrip(t *testing.T) {
	files := corpus(t)
	for _, name := range sortedKeys(files) {
		s := mustParse(t, files[name])
		for _, m := range allMessages(s.File()) {
			path, err := s.IndexesOf(string(m.FullName()))
			if err != nil {
				t.Fatalf("%s: IndexesOf(%s): %v", name, m.FullName(), err)
			}
			got, err := s.MessageByIndexes(path)
			if err != nil || got != m {
				t.Errorf("%s: MessageByIndexes(%v) = %v, %v; want %s", name, path, got, err, m.FullName())
			}
			path[0] = 99
			if again, _ := s.IndexesOf(string(m.FullName())); again[0] == 99 {
				t.Errorf("%s: IndexesOf returns shared storage", name)
			}
		}
	}
}

func BenchmarkMessageByIndexes(b *testing.B) {
	s := mustParse(b, shopFile)
	path := []int{1, 0}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.MessageByIndexes(path); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	text := corpus(b)["rich_proto3.proto"]
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(text, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentUse runs Parse and the accessors from several goroutines;
// with -race it checks the immutability claim.
func TestConcurrentUse(t *testing.T) {
	s := mustParse(t, shopFile)
	done := make(chan error)
	for i := 0; i < 4; i++ {
		go func() {
			if _, err := Parse(shopFile, nil); err != nil {
				done <- err
				return
			}
			for j := 0; j < 100; j++ {
				if _, err := s.MessageByIndexes([]int{1, 0}); err != nil {
					done <- err
					return
				}
				_ = s.Canonical() + s.Normalized() + s.Name()
				_ = s.Dependencies()
			}
			done <- nil
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
