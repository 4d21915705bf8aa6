package pgsink

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config is one PostgreSQL sink connector: the records of Topic written
// as rows of Table in the database Postgres names.
type Config struct {
	// Name identifies the connector; its stored offsets are keyed by it, so
	// renaming a connector starts it over. Required.
	Name string `yaml:"name"`
	// Postgres is the target database's URL (postgres://user@host/db).
	// Required.
	Postgres string `yaml:"postgres"`
	// Topic is the typed topic read. Required.
	Topic string `yaml:"topic"`
	// Table is the target table (default: the topic name with every
	// character outside [A-Za-z0-9_] replaced by "_"); created if missing.
	Table string `yaml:"table"`
	// Schema is the PostgreSQL schema of Table (default "public").
	Schema string `yaml:"schema"`
	// Mode is ModeUpsert (default: insert or update by the record key) or
	// ModeInsert (every record a new row; a tombstone still deletes).
	Mode string `yaml:"mode"`
	// KeyColumn names the primary-key column of a key that is not a
	// record (an Avro primitive, or a schemaless key with KeyFormat
	// "string"); default "key". A record key's fields are the key columns.
	KeyColumn string `yaml:"key_column"`
	// KeyFormat is "registry" (default: keys carry a schema envelope) or
	// "string" (schemaless keys, stored as text).
	KeyFormat string `yaml:"key_format"`
	// Nested is NestedFlatten (default: a nested record's fields become
	// columns parent_child) or NestedJSONB (a nested record is one jsonb
	// column).
	Nested string `yaml:"nested"`
	// BatchRecords is the most records written in one transaction
	// (default 5000).
	BatchRecords int `yaml:"batch_records"`
	// BatchInterval is the longest a batch waits for more records once
	// it has one (default 100ms); a batch also ends when the stream
	// pauses (no record for 5ms).
	BatchInterval time.Duration `yaml:"batch_interval"`
	// OnError is OnErrorFail (default: a record the sink cannot write
	// stops the connector with an error naming it) or OnErrorDLQ (it is
	// appended to DLQTopic with the reason in a header, and the sink goes
	// on).
	OnError string `yaml:"on_error"`
	// DLQTopic is the dead-letter topic of OnErrorDLQ; it must accept the
	// raw records (no schema validation).
	DLQTopic string `yaml:"dlq_topic"`
	// Write is WriteCopy (default: binary COPY; in upsert mode straight
	// into the table while the keys are new, else into a staging table,
	// then one INSERT … ON CONFLICT) or WriteValues (multi-row INSERT …
	// VALUES … ON CONFLICT). See docs/connectors.md for the measurements.
	Write string `yaml:"write"`
}

// The values of Config's enumerations.
const (
	ModeUpsert    = "upsert"
	ModeInsert    = "insert"
	NestedFlatten = "flatten"
	NestedJSONB   = "jsonb"
	OnErrorFail   = "fail"
	OnErrorDLQ    = "dlq"
	WriteCopy     = "copy"
	WriteValues   = "values"
)

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]`)

// withDefaults fills the defaults and validates, naming every problem.
func (c Config) withDefaults() (Config, error) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Table, nonIdent.ReplaceAllString(c.Topic, "_"))
	def(&c.Schema, "public")
	def(&c.Mode, ModeUpsert)
	def(&c.KeyColumn, "key")
	def(&c.KeyFormat, "registry")
	def(&c.Nested, NestedFlatten)
	def(&c.OnError, OnErrorFail)
	def(&c.Write, WriteCopy)
	if c.BatchRecords == 0 {
		c.BatchRecords = 5000
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = 100 * time.Millisecond
	}
	var errs []string
	need := func(v, name string) {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, name+" is required")
		}
	}
	need(c.Name, "name")
	need(c.Postgres, "postgres")
	need(c.Topic, "topic")
	oneOf := func(v, name string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		errs = append(errs, fmt.Sprintf("%s %q: want %s", name, v, strings.Join(allowed, " or ")))
	}
	oneOf(c.Mode, "mode", ModeUpsert, ModeInsert)
	oneOf(c.KeyFormat, "key_format", "registry", "string")
	oneOf(c.Nested, "nested", NestedFlatten, NestedJSONB)
	oneOf(c.OnError, "on_error", OnErrorFail, OnErrorDLQ)
	oneOf(c.Write, "write", WriteCopy, WriteValues)
	if c.OnError == OnErrorDLQ && c.DLQTopic == "" {
		errs = append(errs, "on_error dlq needs dlq_topic")
	}
	if c.BatchRecords < 0 {
		errs = append(errs, "batch_records must be positive")
	}
	if c.BatchInterval < 0 {
		errs = append(errs, "batch_interval must be positive")
	}
	if len(errs) > 0 {
		return c, errors.New(strings.Join(errs, "; "))
	}
	return c, nil
}
