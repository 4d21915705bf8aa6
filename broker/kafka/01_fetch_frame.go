package kafka

// The Fetch response is written without copying its record batches into a
// response buffer: everything but the batches is encoded into small
// buffers, and the frame goes out as those pieces interleaved with each
// partition's batches. On a plain TCP connection the batches are ranges of
// segment files sent with sendfile(2), from the page cache to the socket
// without passing through user space (zero copy); otherwise they are bytes
// read from the segments (one copy) and written with writev.
// TestFetchFrameMatchesKmsg checks the bytes against kmsg's own encoding
// for every version served.

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/sluicehq/sluice/broker"
)

// fetchFrame is a Fetch response that writes its own frame.
type fetchFrame struct {
	*kmsg.FetchResponse
	// bufs are the read buffers behind the record batches, recycled by
	// Release.
	bufs [][]byte
	// files holds the partitions whose batches are file ranges, by slot.
	files *frameFiles
}

// frameFiles are a response's pinned file ranges. A cleanup releases them
// if the response is dropped unwritten (a connection closing while its
// long poll finishes), so no segment stays pinned.
type frameFiles struct {
	by   map[*kmsg.FetchResponseTopicPartition]*broker.BatchFiles
	list []*broker.BatchFiles
}

func newFrameFiles() *frameFiles {
	ff := &frameFiles{by: map[*kmsg.FetchResponseTopicPartition]*broker.BatchFiles{}}
	return ff
}

// seal registers the cleanup once every file is added.
func (ff *frameFiles) seal() {
	list := ff.list
	runtime.AddCleanup(ff, func(l []*broker.BatchFiles) {
		for _, bf := range l {
			bf.Release()
		}
	}, list)
}

// framePiece is encoded bytes, or a partition's batches as file ranges.
type framePiece struct {
	b     []byte
	files *broker.BatchFiles
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

// Release returns the read buffers to the pool and unpins the file
// ranges; the connection calls it once the frame is written or dropped.
func (f fetchFrame) Release() {
	if f.files != nil {
		for _, bf := range f.files.list {
			bf.Release()
		}
	}
	for _, b := range f.bufs {
		if cap(b) > 0 && cap(b) <= maxPooledFetchBuffer {
			b = b[:0]
			fetchBuffers.Put(&b)
		}
	}
}

var _ FrameWriter = fetchFrame{}

// pieces returns the response body as encoded parts, batch byte slices
// and file ranges, in order.
func (f fetchFrame) pieces() []framePiece {
	r := f.FetchResponse
	v := r.Version
	flex := v >= 12
	var out []framePiece
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
			var bf *broker.BatchFiles
			if f.files != nil {
				bf = f.files.by[p]
			}
			size := len(p.RecordBatches)
			if bf != nil {
				size = int(bf.Size)
			}
			switch {
			case p.RecordBatches == nil && bf == nil && flex:
				buf = append(buf, 0)
			case p.RecordBatches == nil && bf == nil:
				buf = be.AppendUint32(buf, 0xffffffff)
			case flex:
				buf = binary.AppendUvarint(buf, uint64(size)+1)
			default:
				buf = be.AppendUint32(buf, uint32(size))
			}
			switch {
			case bf != nil && bf.Size > 0:
				out = append(out, framePiece{b: buf}, framePiece{files: bf})
				buf = make([]byte, 0, 128)
			case len(p.RecordBatches) > 0:
				out = append(out, framePiece{b: buf}, framePiece{b: p.RecordBatches})
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
	return append(out, framePiece{b: buf})
}

// WriteFrame writes the size, the response header and the body: bytes
// with writev, file ranges with sendfile on a TCP connection (else read
// and written).
func (f fetchFrame) WriteFrame(nc net.Conn, header []byte) error {
	body := f.pieces()
	n := int64(len(header))
	for _, pc := range body {
		if pc.files != nil {
			n += pc.files.Size
		} else {
			n += int64(len(pc.b))
		}
	}
	pending := net.Buffers{binary.BigEndian.AppendUint32(nil, uint32(n)), header}
	flush := func() error {
		_, err := pending.WriteTo(nc)
		pending = pending[:0]
		return err
	}
	tcp, _ := nc.(*net.TCPConn)
	for _, pc := range body {
		if pc.files == nil {
			pending = append(pending, pc.b)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		for _, r := range pc.files.Ranges {
			var err error
			if src := r.RawConn(); tcp != nil && src != nil {
				err = sendfile(tcp, src, r.Off, r.Len)
			} else {
				buf := make([]byte, r.Len)
				if err = r.ReadAt(buf); err == nil {
					_, err = nc.Write(buf)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	return flush()
}

// sendfile copies n bytes at off of the file behind src to the socket,
// waiting for the socket to drain as needed (and honouring its write
// deadline).
func sendfile(dst *net.TCPConn, src interface {
	Read(func(uintptr) bool) error
}, off, n int64) error {
	rc, err := dst.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	rerr := src.Read(func(sfd uintptr) bool {
		werr := rc.Write(func(dfd uintptr) bool {
			for n > 0 {
				w, e := unix.Sendfile(int(dfd), int(sfd), &off, int(min(n, 1<<30)))
				if w > 0 {
					n -= int64(w)
				}
				switch {
				case errors.Is(e, unix.EAGAIN):
					return false // wait until the socket is writable
				case errors.Is(e, unix.EINTR):
					continue
				case e != nil:
					serr = e
					return true
				case w == 0:
					serr = io.ErrUnexpectedEOF // the file is shorter than the range
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
		return true
	})
	if serr == nil {
		serr = rerr
	}
	return serr
}
