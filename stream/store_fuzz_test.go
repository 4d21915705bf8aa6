package stream

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// FuzzChangelogApply: any bytes read back from a changelog topic (plain
// or windowed) restore an entry or fail with an error, never panic.
func FuzzChangelogApply(f *testing.F) {
	kd, err := newDatum(primitive.String())
	if err != nil {
		f.Fatal(err)
	}
	vd, err := newDatum(primitive.Int64())
	if err != nil {
		f.Fatal(err)
	}
	k, _ := kd.encode("ada")
	v, _ := vd.encode(int64(42))
	wk := binary.BigEndian.AppendUint64(nil, 1000)
	f.Add(k, v, false)
	f.Add(append(wk, k...), v, true)
	f.Add([]byte{1, 2}, []byte{}, true)
	f.Fuzz(func(t *testing.T, key, value []byte, windowed bool) {
		s := &kvStore{def: &storeDef{name: "fuzz", changelog: "fuzz-changelog", windowed: windowed, key: kd, value: vd}, m: map[string]*entry{}, minStart: noWindow}
		b := client.NewRecordBatch("fuzz-changelog", 0, []*brokerv1.Record{{Key: key, Value: value}})
		if err := s.apply(context.Background(), b, 0); err != nil {
			if len(s.m) != 0 {
				t.Fatalf("a failed apply left %d entries", len(s.m))
			}
			return
		}
		if len(s.m) != 1 {
			t.Fatalf("apply of a value stored %d entries", len(s.m))
		}
	})
}
