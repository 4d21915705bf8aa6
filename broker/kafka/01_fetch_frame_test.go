package kafka

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchFrameMatchesKmsg: for every served version, the hand-written
// frame pieces concatenate to exactly what kmsg encodes.
func TestFetchFrameMatchesKmsg(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int16(4); v <= 16; v++ {
		for round := range 50 {
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = v
			resp.ThrottleMillis = rng.Int32N(100)
			resp.ErrorCode = int16(rng.IntN(3))
			resp.SessionID = rng.Int32N(3)
			for ti := range rng.IntN(4) {
				t := kmsg.NewFetchResponseTopic()
				t.Topic = string(bytes.Repeat([]byte{'a' + byte(ti)}, 1+rng.IntN(200)))
				t.TopicID[0], t.TopicID[15] = byte(ti), byte(round)
				for pi := range rng.IntN(4) {
					p := kmsg.NewFetchResponseTopicPartition()
					p.Partition, p.ErrorCode = int32(pi), int16(rng.IntN(2))
					p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64(), rng.Int64(), rng.Int64()
					p.PreferredReadReplica = -1
					switch rng.IntN(3) {
					case 1:
						p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
					case 2:
						for range 1 + rng.IntN(3) {
							a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
							a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
							p.AbortedTransactions = append(p.AbortedTransactions, a)
						}
					}
					switch rng.IntN(3) {
					case 1:
						p.RecordBatches = []byte{}
					case 2:
						p.RecordBatches = make([]byte, rng.IntN(300))
						for i := range p.RecordBatches {
							p.RecordBatches[i] = byte(rng.IntN(256))
						}
					}
					t.Partitions = append(t.Partitions, p)
				}
				resp.Topics = append(resp.Topics, t)
			}
			want := resp.AppendTo(nil)
			got := joinPieces(t, fetchFrame{FetchResponse: resp}.pieces())
			if !bytes.Equal(got, want) {
				t.Fatalf("v%d round %d: frame differs from kmsg\n got % x\nwant % x", v, round, got, want)
			}
		}
	}
}

// TestFetchFrameWrite: WriteFrame sends size, header and body.
func TestFetchFrameWrite(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer a.Close()
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 11
	tp := kmsg.NewFetchResponseTopic()
	tp.Topic = "t"
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = []byte("batches")
	tp.Partitions = append(tp.Partitions, p)
	resp.Topics = append(resp.Topics, tp)
	go func() {
		defer b.Close()
		fetchFrame{FetchResponse: resp}.WriteFrame(b, []byte{0, 0, 0, 7})
	}()
	var got bytes.Buffer
	got.ReadFrom(a)
	want := append([]byte{0, 0, 0, 0, 0, 0, 0, 7}, resp.AppendTo(nil)...)
	want[3] = byte(len(want) - 4)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("frame\n got % x\nwant % x", got.Bytes(), want)
	}
}

// joinPieces concatenates a frame's pieces, reading file ranges.
func joinPieces(t *testing.T, pcs []framePiece) []byte {
	t.Helper()
	var out []byte
	for _, pc := range pcs {
		if pc.files == nil {
			out = append(out, pc.b...)
			continue
		}
		for _, r := range pc.files.Ranges {
			b := make([]byte, r.Len)
			if err := r.ReadAt(b); err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
	}
	return out
}
