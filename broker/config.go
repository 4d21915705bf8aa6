package broker

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/serde"
)

// Limits of topics and records. They are part of the API: clients see them
// in error messages.
const (
	// MaxPartitions is the most partitions a topic may have.
	MaxPartitions = 1024
	// MaxTopicNameLength is Kafka's limit on topic names.
	MaxTopicNameLength = 249
	// DefaultMaxRequestBytes limits the record bytes of one Produce request.
	DefaultMaxRequestBytes = 16 << 20
)

// configSpec describes one topic config key: its default and how values are
// checked. The table configSpecs is the single place config keys live; the
// schema-enforcement keys (key.schema.validation, ...) are added here.
type configSpec struct {
	key string
	// def is the default, in canonical form.
	def string
	// accepted describes valid values for error messages.
	accepted string
	// canon validates v and returns its canonical form.
	canon func(v string) (string, error)
}

const (
	day = 24 * time.Hour
	mib = 1 << 20
)

// configSpecs is the table of topic config keys, sorted by key.
var configSpecs = []configSpec{
	{
		key: "cleanup.policy", def: "delete",
		accepted: "delete, compact, or both (compact,delete)",
		canon:    cleanupPolicy,
	},
	{
		key: "delete.retention.ms", def: strconv.FormatInt(day.Milliseconds(), 10),
		accepted: "milliseconds, 1 to 9223372036854775807",
		canon:    intRange(1, 1<<63-1),
	},
	{
		// Data-contract rules of the key's schema (enforce_rules.go).
		key: "key.rules", def: RulesEnforce,
		accepted: "enforce or skip",
		canon:    oneOf(RulesEnforce, RulesSkip),
	},
	{
		key: "key.schema.autoregister", def: "false",
		accepted: "true or false",
		canon:    boolValue,
	},
	{
		// See validationDoc for what "auto" means.
		key: "key.schema.validation", def: ValidationAuto,
		accepted: validationAccepted,
		canon:    oneOf(ValidationAuto, ValidationNone, ValidationID, ValidationPayload),
	},
	{
		key: "key.subject.name.strategy", def: string(serde.TopicName),
		accepted: "topic, record or topic_record",
		canon:    strategyValue,
	},
	{
		key: "max.message.bytes", def: strconv.Itoa(1 * mib),
		accepted: "bytes, 1 to 8388608 (8 MiB)",
		canon:    intRange(1, 8*mib),
	},
	{
		// CreateTime keeps each record's timestamp as the producer sent it;
		// LogAppendTime stamps every record with the broker's clock when
		// its batch is appended, as Kafka does.
		key: "message.timestamp.type", def: "CreateTime",
		accepted: "CreateTime or LogAppendTime",
		canon:    oneOf("CreateTime", "LogAppendTime"),
	},
	{
		key: "retention.bytes", def: "-1",
		accepted: "bytes per partition, -1 (unlimited) or 1 to 9223372036854775807",
		canon:    notZero(intRange(-1, 1<<63-1)),
	},
	{
		key: "retention.ms", def: strconv.FormatInt(7*day.Milliseconds(), 10),
		accepted: "milliseconds, -1 (unlimited) or 1 to 9223372036854775807",
		canon:    notZero(intRange(-1, 1<<63-1)),
	},
	{
		// A segment holds at least one record of the largest allowed size;
		// 1 GiB keeps segment file positions well inside 32 bits.
		key: "segment.bytes", def: strconv.Itoa(1 << 30),
		accepted: "bytes, 1048576 (1 MiB) to 1073741824 (1 GiB)",
		canon:    intRange(1*mib, 1<<30),
	},
	{
		key: "segment.ms", def: strconv.FormatInt(7*day.Milliseconds(), 10),
		accepted: "milliseconds, 1000 to 9223372036854775807",
		canon:    intRange(1000, 1<<63-1),
	},
	{
		// Data-contract rules of the value's schema (enforce_rules.go).
		key: "value.rules", def: RulesEnforce,
		accepted: "enforce or skip",
		canon:    oneOf(RulesEnforce, RulesSkip),
	},
	{
		// buf.validate annotations of Protobuf value schemas as rules
		// (enforce_rules.go).
		key: "value.rules.protovalidate", def: "false",
		accepted: "true or false",
		canon:    boolValue,
	},
	{
		// Off by default: on a typed topic a new schema should go through
		// the registry deliberately, not appear because a producer sent it.
		key: "value.schema.autoregister", def: "false",
		accepted: "true or false",
		canon:    boolValue,
	},
	{
		key: "value.schema.validation", def: ValidationAuto,
		accepted: validationAccepted,
		canon:    oneOf(ValidationAuto, ValidationNone, ValidationID, ValidationPayload),
	},
	{
		key: "value.subject.name.strategy", def: string(serde.TopicName),
		accepted: "topic, record or topic_record",
		canon:    strategyValue,
	},
}

// Schema validation modes (key.schema.validation, value.schema.validation).
//
// The default, auto, is the effective-default rule of DESIGN.md §3: a side
// is checked at payload when the topic is typed for that side, that is when
// the subject <topic>-key or <topic>-value has a live version, and not at
// all otherwise. Whether a topic is typed is decided per request, so
// registering the first version of <topic>-value types an existing topic at
// once. A topic created with a schema (sluice topic create --value-schema)
// gets an explicit payload override, so it stays typed under every strategy.
const (
	// ValidationAuto is payload on a typed side, none otherwise.
	ValidationAuto = "auto"
	// ValidationNone accepts any bytes.
	ValidationNone = "none"
	// ValidationID checks the envelope and that its id is a live version of
	// the subject the strategy names.
	ValidationID = "id"
	// ValidationPayload also checks the bytes against the schema.
	ValidationPayload = "payload"
)

const validationAccepted = "auto, none, id or payload (auto: payload when the subject <topic>-key or <topic>-value has a live version, none otherwise)"

func boolValue(v string) (string, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("%q is not a boolean", v)
	}
	return strconv.FormatBool(b), nil
}

func strategyValue(v string) (string, error) {
	st, err := serde.ParseStrategy(strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("%q is not a subject name strategy", v)
	}
	return string(st), nil
}

// specFor returns the spec of key, or nil.
func specFor(key string) *configSpec {
	i, ok := slices.BinarySearchFunc(configSpecs, key, func(s configSpec, k string) int { return strings.Compare(s.key, k) })
	if !ok {
		return nil
	}
	return &configSpecs[i]
}

func oneOf(values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		if slices.Contains(values, v) {
			return v, nil
		}
		return "", fmt.Errorf("%q is not accepted", v)
	}
}

// cleanupPolicy canonicalises cleanup.policy, a list as in Kafka: delete
// (retention), compact (the last record of each key), or both in either
// order, which is "compact,delete" (a compacted topic whose old segments
// also expire, as Kafka Streams makes windowed changelogs).
func cleanupPolicy(v string) (string, error) {
	var compact, del bool
	for item := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(item) {
		case "compact":
			compact = true
		case "delete":
			del = true
		default:
			return "", fmt.Errorf("%q is not accepted", v)
		}
	}
	switch {
	case compact && del:
		return "compact,delete", nil
	case compact:
		return "compact", nil
	default:
		return "delete", nil
	}
}

func intRange(lo, hi int64) func(string) (string, error) {
	return func(v string) (string, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("%q is not an integer", v)
		}
		if n < lo || n > hi {
			return "", fmt.Errorf("%d is out of range", n)
		}
		return strconv.FormatInt(n, 10), nil
	}
}

// notZero refuses 0 where it would be ambiguous: Kafka reads retention 0 as
// "delete everything", the log reads it as "default".
func notZero(f func(string) (string, error)) func(string) (string, error) {
	return func(v string) (string, error) {
		c, err := f(v)
		if err == nil && c == "0" {
			return "", fmt.Errorf("0 is out of range")
		}
		return c, err
	}
}

// msDuration converts milliseconds to a Duration, saturating instead of
// overflowing for the huge values the configs accept.
func msDuration(ms int64) time.Duration {
	const maxMs = int64(1<<63-1) / int64(time.Millisecond)
	if ms > maxMs {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ms) * time.Millisecond
}

// checkConfigKey refuses keys that are not in the table.
func checkConfigKey(key string) error {
	if specFor(key) == nil {
		known := make([]string, len(configSpecs))
		for i, s := range configSpecs {
			known[i] = s.key
		}
		return invalidf("config %q: unknown key; known keys: %s", key, strings.Join(known, ", "))
	}
	return nil
}

// canonConfigs validates overrides and returns them in canonical form. Every
// bad key is reported, in key order.
func canonConfigs(overrides map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(overrides))
	var errs []string
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		if err := checkConfigKey(k); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s := specFor(k)
		c, err := s.canon(overrides[k])
		if err != nil {
			errs = append(errs, fmt.Sprintf("config %s: %v; want %s", k, err, s.accepted))
			continue
		}
		out[k] = c
	}
	if len(errs) > 0 {
		return nil, invalidf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// TopicConfig is a topic's parsed effective configuration.
type TopicConfig struct {
	// Overrides are the keys set on the topic, canonical; read-only.
	Overrides map[string]string
	// Effective is every key with its override or default; read-only.
	Effective map[string]string

	RetentionMs    int64
	RetentionBytes int64
	SegmentBytes   int64
	SegmentMs      int64
	// Compact is cleanup.policy compact or compact,delete: the last record
	// of each key is kept (and keyless records are refused); CompactDelete
	// is compact,delete, where retention.ms and retention.bytes expire old
	// records too.
	Compact, CompactDelete bool
	DeleteRetentionMs      int64
	MaxMessageBytes        int
	// LogAppendTime is message.timestamp.type=LogAppendTime: records take
	// the broker's clock at append instead of the producer's timestamp.
	LogAppendTime bool

	// Schema enforcement, per side: the validation mode as configured
	// (ValidationAuto is resolved per request), the subject-name strategy
	// and whether a schema sent with Produce may be registered.
	KeyValidation, ValueValidation     string
	KeyStrategy, ValueStrategy         serde.Strategy
	KeyAutoRegister, ValueAutoRegister bool
}

// newTopicConfig builds the effective config from canonical overrides.
func newTopicConfig(overrides map[string]string) *TopicConfig {
	eff := make(map[string]string, len(configSpecs))
	for _, s := range configSpecs {
		eff[s.key] = s.def
	}
	maps.Copy(eff, overrides)
	// Values are canonical, so parsing cannot fail here.
	num := func(k string) int64 { n, _ := strconv.ParseInt(eff[k], 10, 64); return n }
	return &TopicConfig{
		Overrides:         overrides,
		Effective:         eff,
		RetentionMs:       num("retention.ms"),
		RetentionBytes:    num("retention.bytes"),
		SegmentBytes:      num("segment.bytes"),
		SegmentMs:         num("segment.ms"),
		Compact:           eff["cleanup.policy"] != "delete",
		CompactDelete:     eff["cleanup.policy"] == "compact,delete",
		DeleteRetentionMs: num("delete.retention.ms"),
		MaxMessageBytes:   int(num("max.message.bytes")),
		LogAppendTime:     eff["message.timestamp.type"] == "LogAppendTime",
		KeyValidation:     eff["key.schema.validation"],
		ValueValidation:   eff["value.schema.validation"],
		KeyStrategy:       serde.Strategy(eff["key.subject.name.strategy"]),
		ValueStrategy:     serde.Strategy(eff["value.subject.name.strategy"]),
		KeyAutoRegister:   eff["key.schema.autoregister"] == "true",
		ValueAutoRegister: eff["value.schema.autoregister"] == "true",
	}
}

// logConfig translates the topic config into the log's partition config.
func (c *TopicConfig) logConfig(b *Broker) log.Config {
	retention := msDuration(c.RetentionMs)
	if c.RetentionMs < 0 {
		retention = -1
	}
	return log.Config{
		SegmentBytes:    c.SegmentBytes,
		SegmentAge:      msDuration(c.SegmentMs),
		RetentionAge:    retention,
		RetentionBytes:  c.RetentionBytes,
		Compact:         c.Compact,
		CompactDelete:   c.CompactDelete,
		DeleteRetention: msDuration(c.DeleteRetentionMs),
		Fsync:           b.cfg.Fsync,
		Now:             b.cfg.Now,
		MaxRecordBytes:  c.MaxMessageBytes,
		// The request limit counts worst-case encoded sizes, so one
		// partition's share of a request fits; the slack is the batch header.
		MaxBatchBytes:       b.cfg.MaxRequestBytes + 4096,
		MaintenanceInterval: b.cfg.MaintenanceInterval,
		SyncGate:            b.syncGate,
		Journal:             b.journal,
	}
}
