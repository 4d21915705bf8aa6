package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/objstore"
	"github.com/sluicehq/sluice/objstore/objstoretest"
)

func newDir(t *testing.T) *objstore.Dir {
	t.Helper()
	d, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDirConformance(t *testing.T) {
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newDir(t) })
}

// Two handles on one directory (as two processes on one shared filesystem)
// pass the suite's concurrency tests against each other, and see each
// other's writes.
func TestDirSharedByTwoHandles(t *testing.T) {
	root := t.TempDir()
	a, err := objstore.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	b, err := objstore.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Put(ctx, "wal/a/1", []byte("from a")); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetRange(ctx, "wal/a/1", 0, -1)
	if err != nil || string(got) != "from a" {
		t.Fatalf("b reads a's object: %q, %v", got, err)
	}
	if err := b.Delete(ctx, "wal/a/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetRange(ctx, "wal/a/1", 0, -1); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("a after b's delete: %v, want ErrNotFound", err)
	}
}

// A temporary file left by a Put killed mid-write is not listed, cannot be
// read as an object, and does not stop the key being written.
func TestDirIgnoresLeftoverTempFiles(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	if err := d.Put(ctx, "wal/n/1", []byte("whole")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Root(), "wal", "n", ".tmp-123"), []byte("par"), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := d.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Key != "wal/n/1" {
		t.Fatalf("List = %v, want only wal/n/1", objs)
	}
	if err := d.Put(ctx, "wal/n/2", []byte("next")); err != nil {
		t.Fatal(err)
	}
	// After a successful Put no temporary file of its own remains.
	ents, err := os.ReadDir(filepath.Join(d.Root(), "wal", "n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != ".tmp-123,1,2" {
		t.Fatalf("directory holds %v, want the leftover and the two objects", names)
	}
}

// Delete removes the directories it empties, and only those.
func TestDirDeleteRemovesEmptiedDirectories(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	for _, k := range []string{"a/b/c/1", "a/x"} {
		if err := d.Put(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Delete(ctx, "a/b/c/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Root(), "a", "b")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a/b still exists after its last object went: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Root(), "a", "x")); err != nil {
		t.Fatalf("a/x: %v", err)
	}
	if _, err := os.Stat(d.Root()); err != nil {
		t.Fatalf("root removed: %v", err)
	}
}

// A key cannot be both an object and a directory of others in a directory
// store: the error says so instead of an obscure rename failure.
func TestDirObjectAndPrefixConflict(t *testing.T) {
	d := newDir(t)
	ctx := context.Background()
	if err := d.Put(ctx, "a/b", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "a", []byte("v")); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Fatalf("Put over a directory of keys: %v, want an error saying why", err)
	}
	if err := d.Put(ctx, "a/b/c", []byte("v")); err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Fatalf("Put under an object: %v, want an error saying why", err)
	}
	got, err := d.GetRange(ctx, "a/b", 0, -1)
	if err != nil || !bytes.Equal(got, []byte("v")) {
		t.Fatalf("a/b after the refused puts: %q, %v", got, err)
	}
}

func TestNewDirRefusesMissingOrFile(t *testing.T) {
	root := t.TempDir()
	if _, err := objstore.NewDir(filepath.Join(root, "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing directory: %v", err)
	}
	f := filepath.Join(root, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := objstore.NewDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
}

// TestDirPutLargeObject: an object of several flush chunks, not a multiple
// of one, reads back whole, and a ranged read across a chunk's end too.
func TestDirPutLargeObject(t *testing.T) {
	d, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const flushChunk = 256 << 10 // Put's
	data := make([]byte, 3*flushChunk+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>11)
	}
	ctx := context.Background()
	if err := d.Put(ctx, "seg/a", data); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetRange(ctx, "seg/a", 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, equal %v, err %v", len(got), bytes.Equal(got, data), err)
	}
	part, err := d.GetRange(ctx, "seg/a", flushChunk-10, 20)
	if err != nil || !bytes.Equal(part, data[flushChunk-10:flushChunk+10]) {
		t.Fatalf("range across a chunk: %v %v", part, err)
	}
}

// TestDirPutPaced: a Put under WithWritePace asks the pace before each
// chunk, with the chunk's size; a pace that fails stops the Put, which
// stores nothing.
func TestDirPutPaced(t *testing.T) {
	const flushChunk = 256 << 10 // Put's
	d, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*flushChunk+100)
	var sizes []int
	ctx := objstore.WithWritePace(context.Background(), func(n int) error {
		sizes = append(sizes, n)
		return nil
	})
	if err := d.Put(ctx, "seg/paced", data); err != nil {
		t.Fatal(err)
	}
	if want := []int{flushChunk, flushChunk, 100}; !slices.Equal(sizes, want) {
		t.Errorf("paced chunks %v, want %v", sizes, want)
	}
	stop := errors.New("the merge was cancelled")
	calls := 0
	ctx = objstore.WithWritePace(context.Background(), func(int) error {
		if calls++; calls == 2 {
			return stop
		}
		return nil
	})
	if err := d.Put(ctx, "seg/stopped", data); !errors.Is(err, stop) {
		t.Fatalf("put with a failing pace: %v, want %v", err, stop)
	}
	objs, err := d.List(context.Background(), "seg/")
	if err != nil || len(objs) != 1 || objs[0].Key != "seg/paced" {
		t.Fatalf("objects after the failed put: %v %v; want only seg/paced", objs, err)
	}
}
