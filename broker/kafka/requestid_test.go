package kafka

import (
	"context"
	"log/slog"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/logcapture"
)

// TestRefusalLinesNameTheRequest: the info lines of a failed SASL login,
// an ACL refusal and a refused produce carry the connection's id and the
// request's correlation and client ids, as sent on the wire.
func TestRefusalLinesNameTheRequest(t *testing.T) {
	var rec logcapture.Recorder
	log := rec.Logger(slog.LevelInfo)
	a, err := acl.New(context.Background(), acl.Config{Store: &acl.MemoryStore{}, Enforce: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Create(context.Background(), []acl.Rule{{Principal: "bob", Resource: acl.Topic, Name: "open", Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow}}); err != nil {
		t.Fatal(err)
	}
	s, addr := newTestServer(t, Config{Auth: auth.New(testAuthFile(), auth.Options{Logger: log}), ACL: a, Logger: log})
	if _, err := s.Broker().CreateTopic(context.Background(), "open", 1, nil); err != nil {
		t.Fatal(err)
	}

	// want checks the one line msg logged for the request corr.
	want := func(msg string, corr int32, connID string) string {
		t.Helper()
		var found []logcapture.Line
		for _, l := range rec.Lines(msg) {
			if l.Attrs["correlation_id"] == strconv.Itoa(int(corr)) {
				found = append(found, l)
			}
		}
		if len(found) != 1 {
			t.Fatalf("%q lines with correlation_id %d: %v (all: %v)", msg, corr, found, rec.Lines(msg))
		}
		l := found[0]
		if l.Attrs["client_id"] != "test" || l.Attrs["conn_id"] == "" || connID != "" && l.Attrs["conn_id"] != connID {
			t.Errorf("%q line: %v, want conn_id %s and client_id test", msg, l.Attrs, connID)
		}
		return l.Attrs["conn_id"]
	}

	// A wrong password: SASL_AUTHENTICATION_FAILED, logged with the
	// SaslAuthenticate request's ids.
	bad := dialRaw(t, addr)
	bad.roundTrip(handshake("PLAIN", 1), 11)
	if r := bad.roundTrip(authenticate(1, "\x00bob\x00wrong"), 12).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != kerr.SaslAuthenticationFailed.Code {
		t.Fatalf("wrong password: error %d", r.ErrorCode)
	}
	badConn := want("authentication failed", 12, "")

	// bob may write "open" only: a produce to "closed" is refused by ACL
	// and logged with the Produce request's ids; one to "open" logs no
	// refusal.
	c := dialRaw(t, addr)
	c.roundTrip(handshake("PLAIN", 1), 21)
	if r := c.roundTrip(authenticate(1, "\x00bob\x00bob-pw"), 22).(*kmsg.SASLAuthenticateResponse); r.ErrorCode != 0 {
		t.Fatalf("bob: error %d", r.ErrorCode)
	}
	produce := func(topic string, partition int32, corr int32) int16 {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 7, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = partition, testBatch(t, numberedRecords(1), batchOpts{})
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := c.roundTrip(req, corr).(*kmsg.ProduceResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := produce("closed", 0, 31); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("produce to closed: error %d, want TOPIC_AUTHORIZATION_FAILED", code)
	}
	conn := want("request refused by ACL", 31, "")
	if conn == badConn {
		t.Errorf("two connections share conn_id %s", conn)
	}
	if code := produce("open", 0, 32); code != 0 {
		t.Fatalf("produce to open: error %d", code)
	}
	if len(rec.Lines("request refused by ACL")) != 1 {
		t.Errorf("an allowed produce logged a refusal: %v", rec.Lines("request refused by ACL"))
	}
}
