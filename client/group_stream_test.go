package client

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
)

// consumeEventViaProto is b decoded by the generated code and converted.
func consumeEventViaProto(b []byte) (consumeEvent, error) {
	full := &brokerv1.ConsumeResponse{}
	if err := proto.Unmarshal(b, full); err != nil {
		return consumeEvent{}, err
	}
	switch e := full.GetEvent().(type) {
	case *brokerv1.ConsumeResponse_Assignment:
		return consumeEvent{assignment: e.Assignment}, nil
	case *brokerv1.ConsumeResponse_Records:
		r := e.Records
		return consumeEvent{partitionRecords: partitionRecords{topic: r.GetTopic(), partition: r.GetPartition(),
			highWatermark: r.GetHighWatermark(), records: appendProtoRecords(nil, r.GetRecords())}}, nil
	}
	return consumeEvent{}, nil
}

// checkConsumeEvent fails where decodeConsumeResponse (through
// groupStreamCodec) and proto.Unmarshal disagree on b.
func checkConsumeEvent(t *testing.T, b []byte) {
	t.Helper()
	want, werr := consumeEventViaProto(b)
	msg := &brokerv1.ConsumeResponse{}
	if err := (wireCodec{}).Unmarshal(b, msg); err != nil {
		t.Fatal(err)
	}
	// A batch left from an earlier response is reused, not kept.
	got, gerr := decodeConsumeResponse(msg, []wireRecord{{offset: 99}})
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("proto.Unmarshal: %v; decodeConsumeResponse: %v (bytes %x)", werr, gerr, b)
	}
	if werr != nil {
		return
	}
	if len(got.records) == 0 {
		got.records = nil
	}
	if (want.assignment == nil) != (got.assignment == nil) || want.assignment != nil && !proto.Equal(want.assignment, got.assignment) {
		t.Fatalf("bytes %x: assignment %v, proto %v", b, got.assignment, want.assignment)
	}
	want.assignment, got.assignment = nil, nil
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("bytes %x:\nproto:   %+v\ndecoded: %+v", b, want, got)
	}
}

func TestDecodeConsumeResponseLikeProto(t *testing.T) {
	own, other := consumeSamples(t)
	for _, b := range append(own, other...) {
		checkConsumeEvent(t, b)
	}
}

func FuzzDecodeConsumeResponse(f *testing.F) {
	own, other := consumeSamples(f)
	for _, b := range append(own, other...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkConsumeEvent(t, b)
	})
}
