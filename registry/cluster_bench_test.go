package registry_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/registry"
)

// BenchmarkRegisterNew measures registering a new schema (a write): on
// meta.db, and in cluster mode on PostgreSQL with one node and with two
// nodes writing at once (each write takes the cluster-wide lock and
// catches up with the other node's writes first). pgtest's server runs
// with fsync off, so this measures the protocol, not the disk.
func BenchmarkRegisterNew(b *testing.B) {
	schema := func(i int64) registry.Schema {
		return avroSchema(fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f","type":"long"}]}`, i))
	}
	none := compatLevel("NONE")
	run := func(b *testing.B, nodes []*registry.Registry) {
		if _, err := nodes[0].SetConfig(ctx, "", registry.SubjectConfig{Compatibility: &none}); err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		b.SetParallelism(1)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			r := nodes[int(n.Add(1))%len(nodes)]
			for pb.Next() {
				i := n.Add(1)
				if _, err := r.Register(ctx, fmt.Sprintf("s%d", i), schema(i), registry.RegisterOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
	}
	b.Run("sqlite", func(b *testing.B) {
		e := newEnv(b)
		run(b, []*registry.Registry{e.Registry})
	})
	for _, nodes := range []int{1, 2} {
		b.Run(fmt.Sprintf("postgres-%dnode", nodes), func(b *testing.B) {
			run(b, clusterNodes(b, nodes, time.Hour))
		})
	}
}
