package kafka

// The Fetch response is written without copying its record batches into a
// response buffer: everything but the batches is encoded into one small
// buffer, and the frame goes out with one writev of that buffer's pieces
// interleaved with each partition's batch bytes (as read from the segment
// files by broker.FetchBatches). TestFetchFrameMatchesKmsg checks the bytes
// against kmsg's own encoding for every version served.

import (
	"encoding/binary"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchFrame is a Fetch response that writes its own frame.
type fetchFrame struct {
	*kmsg.FetchResponse
	// bufs are the read buffers behind the record batches, recycled by
	// Release.
	bufs [][]byte
}

// fetchBuffers recycles the memory partitions are read into. A buffer
// grows to the largest read it served (about a partition's max bytes,
// 1 MiB for most clients); larger ones are dropped.
var fetchBuffers sync.Pool // *[]byte

// maxPooledFetchBuffer bounds the buffers kept.
const maxPooledFetchBuffer = 4 << 20

func getFetchBuffer() []byte {
	if p, ok := fetchBuffers.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return nil
}

// Release returns the read buffers to the pool; the connection calls it
// once the frame is written or dropped.
func (f fetchFrame) Release() {
	for _, b := range f.bufs {
		if cap(b) > 0 && cap(b) <= maxPooledFetchBuffer {
			b = b[:0]
			fetchBuffers.Put(&b)
		}
	}
}

var _ FrameWriter = fetchFrame{}

// pieces returns the response body as alternating encoded parts and batch
// byte slices, in order.
func (f fetchFrame) pieces() net.Buffers {
	r := f.FetchResponse
	v := r.Version
	flex := v >= 12
	var out net.Buffers
	buf := make([]byte, 0, 256)
	be := binary.BigEndian
	arrayLen := func(n int) {
		if flex {
			buf = binary.AppendUvarint(buf, uint64(n)+1)
		} else {
			buf = be.AppendUint32(buf, uint32(n))
		}
	}
	buf = be.AppendUint32(buf, uint32(r.ThrottleMillis))
	if v >= 7 {
		buf = be.AppendUint16(buf, uint16(r.ErrorCode))
		buf = be.AppendUint32(buf, uint32(r.SessionID))
	}
	arrayLen(len(r.Topics))
	for i := range r.Topics {
		t := &r.Topics[i]
		if v >= 13 {
			buf = append(buf, t.TopicID[:]...)
		} else if flex {
			buf = binary.AppendUvarint(buf, uint64(len(t.Topic))+1)
			buf = append(buf, t.Topic...)
		} else {
			buf = be.AppendUint16(buf, uint16(len(t.Topic)))
			buf = append(buf, t.Topic...)
		}
		arrayLen(len(t.Partitions))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			buf = be.AppendUint32(buf, uint32(p.Partition))
			buf = be.AppendUint16(buf, uint16(p.ErrorCode))
			buf = be.AppendUint64(buf, uint64(p.HighWatermark))
			buf = be.AppendUint64(buf, uint64(p.LastStableOffset))
			if v >= 5 {
				buf = be.AppendUint64(buf, uint64(p.LogStartOffset))
			}
			switch {
			case p.AbortedTransactions == nil && flex:
				buf = append(buf, 0)
			case p.AbortedTransactions == nil:
				buf = be.AppendUint32(buf, 0xffffffff)
			default:
				arrayLen(len(p.AbortedTransactions))
				for _, a := range p.AbortedTransactions {
					buf = be.AppendUint64(buf, uint64(a.ProducerID))
					buf = be.AppendUint64(buf, uint64(a.FirstOffset))
					if flex {
						buf = append(buf, 0) // no tags
					}
				}
			}
			if v >= 11 {
				buf = be.AppendUint32(buf, uint32(p.PreferredReadReplica))
			}
			switch {
			case p.RecordBatches == nil && flex:
				buf = append(buf, 0)
			case p.RecordBatches == nil:
				buf = be.AppendUint32(buf, 0xffffffff)
			case flex:
				buf = binary.AppendUvarint(buf, uint64(len(p.RecordBatches))+1)
			default:
				buf = be.AppendUint32(buf, uint32(len(p.RecordBatches)))
			}
			if len(p.RecordBatches) > 0 {
				out = append(out, buf, p.RecordBatches)
				buf = make([]byte, 0, 128)
			}
			if flex {
				buf = append(buf, 0) // no tags: the tagged fields are never set
			}
		}
		if flex {
			buf = append(buf, 0)
		}
	}
	if flex {
		buf = append(buf, 0)
	}
	return append(out, buf)
}

// WriteFrame writes the size, the response header and the body with one
// writev.
func (f fetchFrame) WriteFrame(nc net.Conn, header []byte) error {
	body := f.pieces()
	n := len(header)
	for _, b := range body {
		n += len(b)
	}
	size := binary.BigEndian.AppendUint32(nil, uint32(n))
	bufs := append(net.Buffers{size, header}, body...)
	_, err := bufs.WriteTo(nc)
	return err
}
