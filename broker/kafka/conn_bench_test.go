package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkRoundTrip measures the transport alone: one small request and
// its answer (framing, header, dispatch, stage 1, ordered write) over
// loopback, one at a time and pipelined 8 deep as a producer does.
func BenchmarkRoundTrip(b *testing.B) {
	for _, depth := range []int{1, 8} {
		b.Run(map[int]string{1: "serial", 8: "pipelined8"}[depth], func(b *testing.B) {
			_, addr := newTestServer(b, Config{})
			c := dialRaw(b, addr)
			frame := appendRequest(nil, quorumReq("now"), 1, kmsg.StringPtr("bench"))
			var batch []byte
			for range depth {
				batch = append(batch, frame...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += depth {
				if _, err := c.nc.Write(batch); err != nil {
					b.Fatal(err)
				}
				for range depth {
					if _, _, err := c.recv(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
