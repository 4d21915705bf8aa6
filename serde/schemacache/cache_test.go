package schemacache_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
	"github.com/sluicehq/sluice/serde/schemacache"
)

// fakeSource serves one Avro schema under id 1 until deleted, counting reads.
type fakeSource struct {
	mu      sync.Mutex
	watch   chan struct{}
	deleted bool
	reads   int
	schema  serde.Schema
}

func (f *fakeSource) SchemaByIDParsed(ctx context.Context, id int) (serde.Schema, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if id != 1 || f.deleted {
		return nil, errors.New("schema not found")
	}
	return f.schema, nil
}

func (f *fakeSource) Watch() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watch
}

// change commits a change: the watch channel closes and is replaced.
func (f *fakeSource) change(deleted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = deleted
	close(f.watch)
	f.watch = make(chan struct{})
}

func TestCacheFillsOnceAndDropsOnChange(t *testing.T) {
	s, err := avro.Parse(`{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{watch: make(chan struct{}), schema: s}
	c := schemacache.New(src)
	for range 3 {
		e, err := c.Get(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if name, err := e.RecordName(nil); err != nil || name != "shop.Order" {
			t.Fatalf("RecordName = %q, %v", name, err)
		}
	}
	if src.reads != 1 {
		t.Errorf("reads = %d, want 1 (cached)", src.reads)
	}
	// A delete drops the entry before the next Get returns: no stale hit.
	src.change(true)
	if _, err := c.Get(context.Background(), 1); err == nil {
		t.Fatal("Get after delete succeeded from a stale entry")
	}
	if _, err := c.Get(context.Background(), 2); err == nil {
		t.Fatal("Get of an unknown id succeeded")
	}
}
