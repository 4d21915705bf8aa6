package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzConsumerProtocol feeds arbitrary bytes, as a client's JoinGroup
// metadata and SyncGroup assignment, to the consumer-protocol decoders:
// they must never panic, and whatever they return must name topics the
// bytes encode.
func FuzzConsumerProtocol(f *testing.F) {
	md := kmsg.NewConsumerMemberMetadata()
	md.Topics = []string{"orders", "payments"}
	f.Add(md.AppendTo(nil))
	a := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = "orders", []int32{0, 3}
	a.Topics = append(a.Topics, at)
	f.Add(a.AppendTo(nil))
	f.Add([]byte{0, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		topics := consumerTopics(ProtocolTypeConsumer, []GroupProtocol{{Name: "range", Metadata: b}})
		for i := 1; i < len(topics); i++ {
			if topics[i-1] >= topics[i] {
				t.Fatalf("topics not sorted and unique: %q", topics)
			}
		}
		if consumerTopics("connect", []GroupProtocol{{Name: "x", Metadata: b}}) != nil {
			t.Fatal("decoded a non-consumer protocol")
		}
		_ = consumerAssignment(b)
	})
}
