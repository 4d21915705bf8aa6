package serde

import (
	"errors"
	"testing"
)

// The worked subjects of spec/wire-format.md §7.2.
func TestStrategySubjects(t *testing.T) {
	tests := []struct {
		strategy Strategy
		side     Side
		record   string
		want     string
	}{
		{TopicName, Key, "shop.v1.Order", "orders-key"},
		{TopicName, Value, "shop.v1.Order", "orders-value"},
		{TopicName, Value, "", "orders-value"},
		{RecordName, Key, "shop.v1.Order", "shop.v1.Order"},
		{RecordName, Value, "shop.v1.Order", "shop.v1.Order"},
		{TopicRecordName, Key, "shop.v1.Order", "orders-shop.v1.Order"},
		{TopicRecordName, Value, "shop.v1.Order", "orders-shop.v1.Order"},
	}
	for _, tt := range tests {
		got, err := tt.strategy.Subject("orders", tt.side, tt.record)
		if err != nil || got != tt.want {
			t.Errorf("%s/%s/%q: got %q, %v; want %q", tt.strategy, tt.side, tt.record, got, err, tt.want)
		}
	}
	for _, st := range []Strategy{RecordName, TopicRecordName} {
		if _, err := st.Subject("orders", Value, ""); !errors.Is(err, ErrNoRecordName) {
			t.Errorf("%s without record name: %v", st, err)
		}
	}
}

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]Strategy{
		"topic": TopicName, "record": RecordName, "topic_record": TopicRecordName,
		"TopicNameStrategy": TopicName, "RecordNameStrategy": RecordName, "TopicRecordNameStrategy": TopicRecordName,
	} {
		if got, err := ParseStrategy(in); err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseStrategy("Topic"); err == nil {
		t.Error("ParseStrategy accepted an unknown name")
	}
}
