package serde

import (
	"errors"
	"fmt"
)

// Side is the part of a record a schema describes.
type Side int

// The sides of a record.
const (
	Value Side = iota
	Key
)

// String returns "key" or "value".
func (s Side) String() string {
	if s == Key {
		return "key"
	}
	return "value"
}

// SchemaIDHeader returns the header-mode header key of the side (§2.2).
func (s Side) SchemaIDHeader() string {
	if s == Key {
		return KeySchemaIDHeader
	}
	return ValueSchemaIDHeader
}

// Strategy maps a topic, a side and a record name to a subject
// (spec/wire-format.md §7.2). Its values are the topic config spellings.
type Strategy string

// The subject-name strategies.
const (
	// TopicName is "<topic>-key" / "<topic>-value", the default.
	TopicName Strategy = "topic"
	// RecordName is the record name, shared by every topic carrying the type.
	RecordName Strategy = "record"
	// TopicRecordName is "<topic>-<record name>".
	TopicRecordName Strategy = "topic_record"
)

// ErrNoRecordName is returned by record-based strategies for a schema that
// has no record name (an Avro primitive, a JSON Schema without title).
var ErrNoRecordName = errors.New("schema has no record name")

// ParseStrategy parses a strategy name as written in topic configs. It also
// accepts the Confluent class names (TopicNameStrategy, …).
func ParseStrategy(s string) (Strategy, error) {
	switch s {
	case "topic", "TopicNameStrategy":
		return TopicName, nil
	case "record", "RecordNameStrategy":
		return RecordName, nil
	case "topic_record", "TopicRecordNameStrategy":
		return TopicRecordName, nil
	}
	return "", fmt.Errorf("unknown subject name strategy %q: want topic, record or topic_record", s)
}

// NeedsRecordName reports whether the strategy depends on the record name,
// so that one topic may carry several types.
func (st Strategy) NeedsRecordName() bool { return st == RecordName || st == TopicRecordName }

// Subject returns the subject for topic and side. recordName is the full name
// of the record (§7.1); TopicName ignores it.
func (st Strategy) Subject(topic string, side Side, recordName string) (string, error) {
	switch st {
	case TopicName, "":
		return topic + "-" + side.String(), nil
	case RecordName, TopicRecordName:
		if recordName == "" {
			return "", fmt.Errorf("%s strategy: %w", st, ErrNoRecordName)
		}
		if st == RecordName {
			return recordName, nil
		}
		return topic + "-" + recordName, nil
	}
	return "", fmt.Errorf("unknown subject name strategy %q", string(st))
}
