package main

// Pieces of `sluice topic` for what the Kafka listener brought: raising a
// topic's partition count (topic alter --partitions N, the CreatePartitions
// RPC) and the topic's Kafka id in topic describe.

import (
	"context"
	"flag"
	"fmt"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// partitionsHelp is the help of topic's --partitions flag, which create and
// alter share.
var partitionsHelp = fmt.Sprintf("create: number of partitions, 1 to %d; "+
	"alter: raise the partition count to N (at most %d; partitions cannot be removed). "+
	"Records already stored stay where they are, but keys then map over the new count, "+
	"so a key's new records may go to another partition than its old ones (as in Kafka)",
	maxPartitions, maxPartitions)

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// alterPartitions raises topic name's partition count to n.
func alterPartitions(ctx context.Context, topics brokerv1connect.TopicServiceClient, name string, n int) (*brokerv1.TopicDescription, error) {
	// A topic has at least one partition, so raising it means two or more.
	if n < 2 || n > maxPartitions {
		return nil, fmt.Errorf("--partitions %d: want 2 to %d (alter only raises the count)", n, maxPartitions)
	}
	res, err := topics.CreatePartitions(ctx, connect.NewRequest(&brokerv1.CreatePartitionsRequest{Name: name, Partitions: int32(n)}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetTopic(), nil
}

// topicIDLine is topic describe's line naming the topic's Kafka id (22
// characters of base64url, as Kafka's tools print it).
func topicIDLine(d *brokerv1.TopicDescription) string {
	return fmt.Sprintf("Topic ID: %s\n", d.GetTopicId())
}
