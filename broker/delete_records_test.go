package broker_test

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/broker"
)

func TestDeleteRecords(t *testing.T) {
	e := newEnv(t)
	e.createTopic("t", 2, nil)
	for range 10 {
		e.produce("t", kv("k", "v")) // key "k": one partition
	}
	part := int32(-1)
	for p := range int32(2) {
		if offs, err := e.b.ListOffsets("t", []int32{p}, broker.OffsetLatest, 0); err == nil && offs[0].Offset == 10 {
			part = p
		}
	}
	if part < 0 {
		t.Fatal("test setup: no partition holds the 10 records")
	}
	tests := []struct {
		name      string
		topic     string
		partition int32
		offset    int64
		want      int64
		wantErr   error
	}{
		{"moves forward", "t", part, 4, 4, nil},
		{"never back", "t", part, 2, 4, nil},
		{"past the high watermark", "t", part, 11, 0, broker.ErrOffsetOutOfRange},
		{"below -1", "t", part, -2, 0, broker.ErrOffsetOutOfRange},
		{"unknown topic", "nope", 0, 1, 0, broker.ErrTopicNotFound},
		{"unknown partition", "t", 2, 1, 0, broker.ErrInvalidArgument},
		{"-1 is the high watermark", "t", part, broker.DeleteRecordsHighWatermark, 10, nil},
	}
	for _, tc := range tests {
		got, err := e.b.DeleteRecords(tc.topic, tc.partition, tc.offset)
		if tc.wantErr != nil {
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Fatalf("%s: DeleteRecords = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	e.restart()
	offs, err := e.b.ListOffsets("t", []int32{part}, broker.OffsetEarliest, 0)
	if err != nil || offs[0].Offset != 10 {
		t.Fatalf("earliest after restart = %v, %v; want 10", offs, err)
	}
}
