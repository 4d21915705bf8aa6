package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// fuzzSeeds are valid request frames (without size prefix) of served keys at
// several versions, for both fuzz targets.
func fuzzSeeds() [][]byte {
	var out [][]byte
	add := func(req kmsg.Request, versions ...int16) {
		for _, v := range versions {
			req.SetVersion(v)
			f := appendRequest(nil, req, 1, kmsg.StringPtr("fuzz"))
			out = append(out, f[4:])
		}
	}
	av := kmsg.NewPtrApiVersionsRequest()
	av.ClientSoftwareName, av.ClientSoftwareVersion = "fuzz", "1"
	add(av, 0, 3, 4)
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("t")
	md.Topics = append(md.Topics, mt)
	add(md, 0, 4, 9, 12)
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lt.Partitions = append(lt.Partitions, kmsg.NewListOffsetsRequestTopicPartition())
	lo.Topics = append(lo.Topics, lt)
	add(lo, 1, 6, 8)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "t", 1, 1
	ctt.Configs = append(ctt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "retention.ms", Value: kmsg.StringPtr("1000")})
	ct.Topics = append(ct.Topics, ctt)
	add(ct, 0, 5, 7)
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceTypeTopic, "t"
	dc.Resources = append(dc.Resources, dr)
	add(dc, 0, 4)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = "g", []string{"g"}
	add(fc, 0, 3, 4, 5)
	return out
}

// FuzzDecodeRequest: any frame decodes or fails with an error, never a
// panic; a decoded request re-encodes and decodes again to the same bytes.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, _, req, err := decodeRequest(frame)
		if err != nil {
			return
		}
		if h.key == int16(kmsg.ApiVersions) {
			if _, ok := lookup(h.key, h.version); !ok {
				return // an unknown ApiVersions version is not decoded
			}
		}
		again := appendRequest(nil, req, h.corr, &h.clientID)
		h2, _, req2, err := decodeRequest(again[4:])
		if err != nil {
			t.Fatalf("re-encoded %s v%d does not decode: %v", kmsg.NameForKey(h.key), h.version, err)
		}
		if h2 != h {
			t.Fatalf("header %+v became %+v", h, h2)
		}
		if b1, b2 := req.AppendTo(nil), req2.AppendTo(nil); !bytes.Equal(b1, b2) {
			t.Fatalf("%s v%d: re-encoding is not stable", kmsg.NameForKey(h.key), h.version)
		}
	})
}

// FuzzConn sends random frames to a live listener (a real broker behind it):
// the server answers or closes the connection, never panics, and keeps
// serving.
func FuzzConn(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	// One server for the whole run (each fuzz worker process has its own).
	fuzzSrv, fuzzAddr := newTestServer(f, Config{AutoCreateTopics: true, IdleTimeout: 5 * time.Second})
	f.Fuzz(func(t *testing.T, frame []byte) {
		nc, err := net.Dial("tcp", fuzzAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		msg = append(msg, frame...)
		if _, err := nc.Write(msg); err != nil {
			return // closed already
		}
		// Read whatever comes back: whole response frames, then either
		// nothing more (half-close) or a close.
		nc.(*net.TCPConn).CloseWrite()
		for {
			var size [4]byte
			if _, err := io.ReadFull(nc, size[:]); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("no answer and no close within 5s for %x", frame)
				}
				break
			}
			body := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(nc, body); err != nil {
				t.Fatalf("truncated response: %v", err)
			}
		}
		if n := fuzzSrv.panics.Load(); n != 0 {
			t.Fatalf("%d panics recovered", n)
		}
	})
}
