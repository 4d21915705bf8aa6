package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// ProbePrefix is the prefix of the keys Probe writes; no other code writes
// under it.
const ProbePrefix = "probe/"

// Probe checks that s works end to end: it puts a small object under
// ProbePrefix (named after who, with a random suffix), reads it back,
// compares, and deletes it. It returns the time the three calls took.
func Probe(ctx context.Context, s Store, who string) (time.Duration, error) {
	var rnd [8]byte
	rand.Read(rnd[:])
	name := who
	if CheckKey(name) != nil || len(name) > 64 {
		name = "node"
	}
	key := ProbePrefix + name + "-" + hex.EncodeToString(rnd[:])
	data := []byte("sluice object store probe " + key)
	start := time.Now()
	if err := s.Put(ctx, key, data); err != nil {
		return 0, fmt.Errorf("probe: %w", err)
	}
	got, err := s.GetRange(ctx, key, 0, -1)
	if err != nil {
		s.Delete(context.WithoutCancel(ctx), key)
		return 0, fmt.Errorf("probe: reading back what it wrote: %w", err)
	}
	if !bytes.Equal(got, data) {
		s.Delete(context.WithoutCancel(ctx), key)
		return 0, fmt.Errorf("probe: read back %d bytes that differ from the %d written to %q", len(got), len(data), key)
	}
	if err := s.Delete(ctx, key); err != nil {
		return 0, fmt.Errorf("probe: %w", err)
	}
	return time.Since(start), nil
}
