package main

import (
	"context"
	"flag"
	"strings"
	"testing"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

func TestAlterPartitions(t *testing.T) {
	url := btServer(t)
	topics := brokerv1connect.NewTopicServiceClient(httpClient(), url)
	ctx := context.Background()
	if _, err := topics.CreateTopic(ctx, connect.NewRequest(&brokerv1.CreateTopicRequest{Name: "grow", Partitions: 2})); err != nil {
		t.Fatal(err)
	}
	d, err := alterPartitions(ctx, topics, "grow", 5)
	if err != nil || len(d.GetPartitions()) != 5 {
		t.Fatalf("alter to 5: %v, %v", d, err)
	}
	if line := topicIDLine(d); !strings.HasPrefix(line, "Topic ID: ") || len(line) != len("Topic ID: ")+22+1 {
		t.Fatalf("topic id line %q", line)
	}
	if _, err := alterPartitions(ctx, topics, "grow", 3); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "must be more") {
		t.Fatalf("shrink: %v", err)
	}
	if _, err := alterPartitions(ctx, topics, "grow", 5000); err == nil || !strings.Contains(err.Error(), "--partitions 5000") {
		t.Fatalf("too many: %v", err)
	}
	for _, n := range []int{1, 0, -3} {
		if _, err := alterPartitions(ctx, topics, "grow", n); err == nil || connect.CodeOf(err) != connect.CodeUnknown || !strings.Contains(err.Error(), "want 2 to") {
			t.Fatalf("--partitions %d: want the local refusal, got %v", n, err)
		}
	}
}

func TestFlagGiven(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("partitions", 1, "")
	fs.String("set", "", "")
	if err := fs.Parse([]string{"--partitions", "1"}); err != nil {
		t.Fatal(err)
	}
	if !flagGiven(fs, "partitions") || flagGiven(fs, "set") {
		t.Fatal("flagGiven is wrong")
	}
}
