package kafka

// Kafka's topic and broker config vocabulary, translated to Sluice's. Topic
// keys Sluice knows (broker.IsTopicConfigKey) apply. Kafka keys that mean
// nothing on one node, or that only tune what Sluice does its own way
// (flushing, index spacing, replication throttles), are accepted when their
// value is well-formed, echoed and ignored, so that tools and frameworks
// that set them (Kafka Connect, Streams, Terraform providers) keep working.
// Values Sluice cannot honour are INVALID_CONFIG with the reason. The table
// is the transport's: it names Kafka keys, not Sluice behaviour.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// ignoredKey is a Kafka topic config key accepted and ignored.
type ignoredKey struct {
	def   string // the value Sluice behaves as, shown by DescribeConfigs
	typ   kmsg.ConfigType
	why   string
	check func(v string) error // nil accepts any value of typ
}

// ignoredTopicKeys are the Kafka topic keys accepted and ignored.
var ignoredTopicKeys = map[string]ignoredKey{
	"min.insync.replicas":                     {"1", kmsg.ConfigTypeInt, "Sluice is one node: every ack is from all in-sync replicas", atLeast(1)},
	"unclean.leader.election.enable":          {"false", kmsg.ConfigTypeBoolean, "Sluice is one node: there is no other leader", nil},
	"leader.replication.throttled.replicas":   {"", kmsg.ConfigTypeList, "Sluice is one node: nothing replicates", anyValue},
	"follower.replication.throttled.replicas": {"", kmsg.ConfigTypeList, "Sluice is one node: nothing replicates", anyValue},
	"flush.messages":                          {"9223372036854775807", kmsg.ConfigTypeLong, "durability follows sluice serve --fsync", atLeast(1)},
	"flush.ms":                                {"9223372036854775807", kmsg.ConfigTypeLong, "durability follows sluice serve --fsync", atLeast(0)},
	"index.interval.bytes":                    {"4096", kmsg.ConfigTypeInt, "Sluice spaces its index entries itself", atLeast(0)},
	"segment.index.bytes":                     {"10485760", kmsg.ConfigTypeInt, "Sluice sizes its index files itself", atLeast(4)},
	"segment.jitter.ms":                       {"0", kmsg.ConfigTypeLong, "Sluice rolls segments at segment.ms exactly", atLeast(0)},
	"preallocate":                             {"false", kmsg.ConfigTypeBoolean, "Sluice does not preallocate segments", nil},
	"file.delete.delay.ms":                    {"60000", kmsg.ConfigTypeLong, "Sluice deletes segments once no reader holds them", atLeast(0)},
	"message.downconversion.enable":           {"true", kmsg.ConfigTypeBoolean, "Sluice serves message format v2 only", nil},
	"min.cleanable.dirty.ratio":               {"0.5", kmsg.ConfigTypeDouble, "Sluice compacts at every maintenance pass", nil},
	"min.compaction.lag.ms":                   {"0", kmsg.ConfigTypeLong, "Sluice compacts at every maintenance pass", atLeast(0)},
	"max.compaction.lag.ms":                   {"9223372036854775807", kmsg.ConfigTypeLong, "Sluice compacts at every maintenance pass", atLeast(1)},
	"message.timestamp.difference.max.ms":     {"9223372036854775807", kmsg.ConfigTypeLong, "Sluice keeps producer timestamps as sent", atLeast(0)},
	"message.timestamp.before.max.ms":         {"9223372036854775807", kmsg.ConfigTypeLong, "Sluice keeps producer timestamps as sent", atLeast(0)},
	"message.timestamp.after.max.ms":          {"9223372036854775807", kmsg.ConfigTypeLong, "Sluice keeps producer timestamps as sent", atLeast(0)},
	"local.retention.ms":                      {"-2", kmsg.ConfigTypeLong, "Sluice keeps every segment local", atLeast(-2)},
	"local.retention.bytes":                   {"-2", kmsg.ConfigTypeLong, "Sluice keeps every segment local", atLeast(-2)},
	"remote.storage.enable": {"false", kmsg.ConfigTypeBoolean, "Sluice has no tiered storage",
		only("false", "Sluice has no tiered storage")},
	"compression.type": {"producer", kmsg.ConfigTypeString, "Sluice stores record batches uncompressed",
		only("producer", "Sluice stores record batches uncompressed; compression.type must be producer or uncompressed", "uncompressed")},
}

func anyValue(string) error { return nil }

func atLeast(lo int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo {
			return fmt.Errorf("%d is below %d", n, lo)
		}
		return nil
	}
}

// only accepts first or the others; anything else is refused with why.
func only(first, why string, others ...string) func(string) error {
	return func(v string) error {
		if v == first || slices.Contains(others, v) {
			return nil
		}
		return fmt.Errorf("%q: %s", v, why)
	}
}

// checkIgnored checks the value of an ignored key.
func checkIgnored(k ignoredKey, v string) error {
	if k.check != nil {
		return k.check(v)
	}
	switch k.typ {
	case kmsg.ConfigTypeBoolean:
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not a boolean", v)
		}
	case kmsg.ConfigTypeDouble:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
	}
	return nil
}

// configError refuses a config with INVALID_CONFIG and a reason.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// splitTopicConfigs separates Sluice's keys from accepted-and-ignored Kafka
// keys. A null value, a bad value of an ignored key or an unknown key is a
// *configError; values of Sluice's keys are checked by the broker.
func splitTopicConfigs(names []string, values []*string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	var errs []string
	for i, k := range names {
		v := values[i]
		if v == nil {
			errs = append(errs, fmt.Sprintf("config %s: a null value is not allowed", k))
			continue
		}
		if broker.IsTopicConfigKey(k) {
			out[k] = *v
			continue
		}
		ik, ok := ignoredTopicKeys[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("config %q: unknown key", k))
			continue
		}
		if err := checkIgnored(ik, *v); err != nil {
			errs = append(errs, fmt.Sprintf("config %s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		return nil, &configError{strings.Join(errs, "; ")}
	}
	return out, nil
}

// configEntry is one config as DescribeConfigs and CreateTopics v5+ show it.
type configEntry struct {
	name, value string
	readOnly    bool
	source      kmsg.ConfigSource
	typ         kmsg.ConfigType
	doc         string
	// def is the default when source is an override (for synonyms).
	def *string
}

// sluiceKeyTypes are the Kafka types of Sluice's keys that are not strings.
var sluiceKeyTypes = map[string]kmsg.ConfigType{
	"cleanup.policy":            kmsg.ConfigTypeList,
	"delete.retention.ms":       kmsg.ConfigTypeLong,
	"max.message.bytes":         kmsg.ConfigTypeInt,
	"retention.bytes":           kmsg.ConfigTypeLong,
	"retention.ms":              kmsg.ConfigTypeLong,
	"segment.bytes":             kmsg.ConfigTypeInt,
	"segment.ms":                kmsg.ConfigTypeLong,
	"key.schema.autoregister":   kmsg.ConfigTypeBoolean,
	"value.schema.autoregister": kmsg.ConfigTypeBoolean,
}

// topicConfigEntries lists a topic's configs, by name: Sluice's keys
// (overrides as DYNAMIC_TOPIC_CONFIG, the rest DEFAULT_CONFIG), then the
// ignored Kafka keys at the values Sluice behaves as.
func topicConfigEntries(cfg *broker.TopicConfig) []configEntry {
	out := make([]configEntry, 0, len(cfg.Effective)+len(ignoredTopicKeys))
	for _, k := range slices.Sorted(maps.Keys(cfg.Effective)) {
		e := configEntry{name: k, value: cfg.Effective[k], source: kmsg.ConfigSourceDefaultConfig, typ: kmsg.ConfigTypeString}
		if t, ok := sluiceKeyTypes[k]; ok {
			e.typ = t
		}
		if _, ok := cfg.Overrides[k]; ok {
			e.source = kmsg.ConfigSourceDynamicTopicConfig
			if d, ok := broker.TopicConfigDefault(k); ok {
				e.def = &d
			}
		}
		e.doc = "accepts " + broker.TopicConfigAccepted(k)
		out = append(out, e)
	}
	for _, k := range slices.Sorted(maps.Keys(ignoredTopicKeys)) {
		ik := ignoredTopicKeys[k]
		out = append(out, configEntry{name: k, value: ik.def, source: kmsg.ConfigSourceDefaultConfig, typ: ik.typ,
			doc: "accepted and ignored: " + ik.why})
	}
	return out
}

// brokerConfigEntries are node 0's configs: read-only, set by sluice serve.
func brokerConfigEntries(s *Server) []configEntry {
	def := func(k string) string { v, _ := broker.TopicConfigDefault(k); return v }
	static := func(name, value string, typ kmsg.ConfigType, doc string) configEntry {
		return configEntry{name: name, value: value, readOnly: true, source: kmsg.ConfigSourceStaticBrokerConfig, typ: typ, doc: doc}
	}
	return []configEntry{
		static("auto.create.topics.enable", strconv.FormatBool(s.AutoCreateTopics()), kmsg.ConfigTypeBoolean, "sluice serve --kafka-auto-create-topics"),
		static("default.replication.factor", "1", kmsg.ConfigTypeShort, "Sluice is one node"),
		static("log.cleanup.policy", def("cleanup.policy"), kmsg.ConfigTypeList, "the default of the topic config cleanup.policy"),
		static("log.retention.ms", def("retention.ms"), kmsg.ConfigTypeLong, "the default of the topic config retention.ms"),
		static("log.segment.bytes", def("segment.bytes"), kmsg.ConfigTypeInt, "the default of the topic config segment.bytes"),
		static("message.max.bytes", def("max.message.bytes"), kmsg.ConfigTypeInt, "the default of the topic config max.message.bytes"),
		static("min.insync.replicas", "1", kmsg.ConfigTypeInt, "Sluice is one node"),
		static("num.partitions", "1", kmsg.ConfigTypeInt, "partitions of a topic created without a count"),
		static("offsets.topic.replication.factor", "1", kmsg.ConfigTypeShort, "Sluice is one node; group offsets live in meta.db"),
		static("socket.request.max.bytes", strconv.Itoa(int(s.cfg.MaxRequestBytes)), kmsg.ConfigTypeInt, "sluice serve --kafka-max-request-bytes"),
		static("transaction.state.log.replication.factor", "1", kmsg.ConfigTypeShort, "Sluice is one node"),
	}
}

// brokerResource reports whether name names node 0 ("" is the cluster-wide
// default, which is node 0's on one node).
func brokerResource(name string) bool { return name == "" || name == strconv.Itoa(int(NodeID)) }
