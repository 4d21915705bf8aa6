package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// TestConsumeFromTime: --from TIME starts each partition at its first
// record at or after the time (as the web console's record browser does
// "from a time"); a partition with none that late reads nothing; --follow
// from a time needs a --partition.
func TestConsumeFromTime(t *testing.T) {
	addr := btServer(t)
	tr := &btTranscript{t: t, addr: addr}
	tr.run("", "topic", "create", "timed", "--partitions", "2")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := func(p int32, v string, at time.Time) *brokerv1.ProduceRecord {
		return &brokerv1.ProduceRecord{Partition: &p, Value: []byte(v), Timestamp: timestamppb.New(at)}
	}
	bc := brokerv1connect.NewBrokerServiceClient(http.DefaultClient, addr)
	if _, err := bc.Produce(context.Background(), connect.NewRequest(&brokerv1.ProduceRequest{Topic: "timed", Records: []*brokerv1.ProduceRecord{
		rec(0, "p0-early", t0), rec(0, "p0-noon+1m", t0.Add(time.Minute)), rec(0, "p0-noon+2m", t0.Add(2*time.Minute)),
		rec(1, "p1-early", t0), rec(1, "p1-noon+30s", t0.Add(30*time.Second)),
	}})); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "2026-03-01T12:00:30Z"}, "partition=0 offset=1 key=<null> value=p0-noon+1m\npartition=0 offset=2 key=<null> value=p0-noon+2m\npartition=1 offset=1 key=<null> value=p1-noon+30s\n"},
		{[]string{"--from", "2026-03-01T12:01:00Z", "--partition", "0"}, "partition=0 offset=1 key=<null> value=p0-noon+1m\npartition=0 offset=2 key=<null> value=p0-noon+2m\n"},
		{[]string{"--from", "2026-03-01T13:01:30+01:00"}, "partition=0 offset=2 key=<null> value=p0-noon+2m\n"},
		{[]string{"--from", "2026-03-01T12:05:00Z"}, ""},
		{[]string{"--from", "2026-03-01T12:00:30Z", "--partition", "0", "--follow", "--max", "2"}, "partition=0 offset=1 key=<null> value=p0-noon+1m\npartition=0 offset=2 key=<null> value=p0-noon+2m\n"},
	} {
		out, code := tr.run("", append([]string{"consume", "timed"}, c.args...)...)
		if code != 0 || out != c.want {
			t.Errorf("consume %s: exit %d\n got %q\nwant %q", strings.Join(c.args, " "), code, out, c.want)
		}
	}
	for _, args := range [][]string{
		{"consume", "timed", "--from", "2026-03-01T12:00:30Z", "--follow"},
		{"consume", "timed", "--from", "2026-03-01T12:00:30Z", "--group", "g"},
		{"consume", "timed", "--from", "2026-03-01 12:00"},
	} {
		if _, code := tr.run("", args...); code != 2 {
			t.Errorf("sluice %s: exit %d, want 2 (usage)", strings.Join(args, " "), code)
		}
	}
	if out := tr.sb.String(); !strings.Contains(out, "--follow from a time takes a --partition") || !strings.Contains(out, "or an RFC 3339 time") {
		t.Errorf("the usage errors do not say what is wrong:\n%s", out)
	}
}
