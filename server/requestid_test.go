package server

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/logcapture"
)

// TestRefusalLinesCarryTheRequestID: the info line of each failed login
// and each refusal over HTTP (REST, Connect) names the request id its
// response carries in X-Request-Id: the client's when it sent one, else one
// the node made; over Kafka, the produce refusal names the connection, the
// correlation id and the client id the request was sent with.
func TestRefusalLinesCarryTheRequestID(t *testing.T) {
	var rec logcapture.Recorder
	yaml, _ := testAuthFile()
	f, err := auth.ParseFile("test", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(f, auth.Options{Logger: rec.Logger(slog.LevelInfo)})
	s, url, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Logger: rec.Logger(slog.LevelInfo), Auth: a,
		KafkaAddr: "127.0.0.1:0", Fsync: neverFsync(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if _, err := s.Broker.CreateTopic(context.Background(), "orders", 1, map[string]string{"value.schema.validation": "payload"}); err != nil {
		t.Fatal(err)
	}

	// send makes one HTTP request and returns its status and X-Request-Id.
	send := func(method, path, contentType, body, user, pass, id string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.SetBasicAuth(user, pass)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Request-Id")
	}
	// logged checks that exactly one msg line names request id.
	logged := func(msg, id string) {
		t.Helper()
		n := 0
		for _, l := range rec.Lines(msg) {
			if l.Attrs["request_id"] == id {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d %q lines with request_id %q, want 1; lines: %v", n, msg, id, rec.Lines(msg))
		}
	}
	const restJSON, connectJSON = "application/vnd.schemaregistry.v1+json", "application/json"
	for _, tc := range []struct {
		name                      string
		method, path, ctype, body string
		user, pass, sentID        string
		status                    int
		msg                       string
	}{
		{"REST wrong password, client's id", "GET", "/subjects", "", "", "bob", "wrong", "client-id-1", 401, "authentication failed"},
		{"REST wrong password", "GET", "/subjects", "", "", "bob", "wrong", "", 401, "authentication failed"},
		{"Connect unknown user", "POST", "/sluice.broker.v1.BrokerService/Produce", connectJSON, `{"topic":"orders"}`, "nobody", "x", "", 401, "authentication failed"},
		{"REST ACL refusal", "POST", "/subjects/orders-value/versions", restJSON, `{"schema":"\"string\""}`, "bob", "bob-pw", "", 403, "request refused by ACL"},
		{"REST ACL refusal, client's id", "POST", "/subjects/orders-value/versions", restJSON, `{"schema":"\"string\""}`, "bob", "bob-pw", "client-id-2", 403, "request refused by ACL"},
		{"Connect ACL refusal", "POST", "/sluice.broker.v1.BrokerService/Produce", connectJSON, `{"topic":"orders","records":[{"value":"eA=="}]}`, "bob", "bob-pw", "", 403, "request refused by ACL"},
		{"Connect produce refusal", "POST", "/sluice.broker.v1.BrokerService/Produce", connectJSON, `{"topic":"orders","records":[{"value":"eA=="}]}`, "alice", "alice-pw", "", 400, "produce refused"},
		{"Connect produce refusal, client's id", "POST", "/sluice.broker.v1.BrokerService/Produce", connectJSON, `{"topic":"orders","records":[{"value":"eA=="}]}`, "alice", "alice-pw", "client-id-3", 400, "produce refused"},
	} {
		status, id := send(tc.method, tc.path, tc.ctype, tc.body, tc.user, tc.pass, tc.sentID)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.status)
			continue
		}
		if id == "" || tc.sentID != "" && id != tc.sentID {
			t.Errorf("%s: X-Request-Id %q (sent %q)", tc.name, id, tc.sentID)
			continue
		}
		logged(tc.msg, id)
	}

	// Kafka: alice authenticates with SASL PLAIN; a produce of a value
	// that is no schema payload is refused and logged with the request's
	// ids.
	k := dialKafka(t, s.KafkaAddr())
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	k.roundTrip(hs, 1)
	sa := kmsg.NewPtrSASLAuthenticateRequest()
	sa.Version, sa.SASLAuthBytes = 1, []byte("\x00alice\x00alice-pw")
	if r := k.roundTrip(sa, 2).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != 0 {
		t.Fatalf("SASL: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	pr := kmsg.NewPtrProduceRequest()
	pr.Version, pr.Acks, pr.TimeoutMillis = 9, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "orders"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = oneRecordBatch([]byte("x"))
	rt.Partitions = append(rt.Partitions, rp)
	pr.Topics = append(pr.Topics, rt)
	if code := k.roundTrip(pr, 4242).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRecord.Code {
		t.Fatalf("produce: %v, want INVALID_RECORD", kerr.ErrorForCode(code))
	}
	lines := rec.Lines("Kafka produce refused")
	if len(lines) != 1 {
		t.Fatalf("Kafka produce refused lines: %v", lines)
	}
	if l := lines[0].Attrs; l["correlation_id"] != "4242" || l["client_id"] != "requestid-test" || l["conn_id"] == "" {
		t.Errorf("Kafka produce refused: %v, want correlation_id 4242, client_id requestid-test and a conn_id", l)
	}
}

// kafkaConn is a hand-driven Kafka connection (client id
// "requestid-test").
type kafkaConn struct {
	t  *testing.T
	nc net.Conn
}

func dialKafka(t *testing.T, addr string) *kafkaConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &kafkaConn{t, nc}
}

// roundTrip sends req with correlation id corr and decodes the answer.
func (k *kafkaConn) roundTrip(req kmsg.Request, corr int32) kmsg.Response {
	k.t.Helper()
	const client = "requestid-test"
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(client)))
	b = append(b, client...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	if _, err := k.nc.Write(b); err != nil {
		k.t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(k.nc, size[:]); err != nil {
		k.t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(k.nc, body); err != nil {
		k.t.Fatal(err)
	}
	if got := int32(binary.BigEndian.Uint32(body)); got != corr {
		k.t.Fatalf("correlation id %d, want %d", got, corr)
	}
	body = body[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) {
		body = body[1:] // the empty tag section of the response header
	}
	if err := resp.ReadFrom(body); err != nil {
		k.t.Fatalf("%s: decode: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// oneRecordBatch is a record batch v2 of one record with a null key.
func oneRecordBatch(value []byte) []byte {
	var rec []byte
	rec = append(rec, 0)               // attributes
	rec = binary.AppendVarint(rec, 0)  // timestamp delta
	rec = binary.AppendVarint(rec, 0)  // offset delta
	rec = binary.AppendVarint(rec, -1) // null key
	rec = binary.AppendVarint(rec, int64(len(value)))
	rec = append(rec, value...)
	rec = binary.AppendVarint(rec, 0) // no headers
	rec = append(binary.AppendVarint(nil, int64(len(rec))), rec...)
	b := kmsg.RecordBatch{
		FirstOffset: 0, Magic: 2, LastOffsetDelta: 0,
		FirstTimestamp: 1_700_000_000_000, MaxTimestamp: 1_700_000_000_000,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: rec,
	}
	raw := b.AppendTo(nil)
	// Length (after the first 12 bytes) and CRC-32C (over bytes 21 on).
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32c(raw[21:]))
	return raw
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
