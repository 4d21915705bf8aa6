package broker

// Checks without effects, for Kafka's validate_only admin requests: each
// answers what CreateTopic or AlterTopicConfigs would answer now, with the
// same errors, and changes nothing.

import (
	"errors"
	"fmt"
	"maps"
)

// CheckCreateTopic reports whether CreateTopic(name, partitions, configs)
// would be accepted now, and the effective config the topic would get.
func (b *Broker) CheckCreateTopic(name string, partitions int, configs map[string]string) (*TopicConfig, error) {
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	if partitions == 0 {
		partitions = 1
	}
	if partitions < 1 || partitions > MaxPartitions {
		return nil, invalidf("create topic %s: %d partitions: want 1 to %d", name, partitions, MaxPartitions)
	}
	canon, err := canonConfigs(configs)
	if err != nil {
		return nil, fmt.Errorf("create topic %s: %w", name, err)
	}
	if _, err := b.lookup(name); err == nil {
		return nil, fmt.Errorf("create topic %s: %w", name, ErrTopicExists)
	} else if errors.Is(err, ErrClosed) {
		return nil, err
	}
	return newTopicConfig(canon), nil
}

// CheckAlterTopicConfigs reports whether AlterTopicConfigs(name, set, del)
// would be accepted now, and the effective config the topic would get.
func (b *Broker) CheckAlterTopicConfigs(name string, set map[string]string, del []string) (*TopicConfig, error) {
	t, err := b.lookup(name)
	if err != nil {
		return nil, fmt.Errorf("alter topic: %w", err)
	}
	canonSet, err := canonConfigs(set)
	if err != nil {
		return nil, fmt.Errorf("alter topic %s: %w", name, err)
	}
	next := maps.Clone(t.cfg.Load().Overrides)
	maps.Copy(next, canonSet)
	for _, k := range del {
		if err := checkConfigKey(k); err != nil {
			return nil, fmt.Errorf("alter topic %s: %w", name, err)
		}
		if _, ok := set[k]; ok {
			return nil, invalidf("alter topic %s: config %q is both set and deleted", name, k)
		}
		delete(next, k)
	}
	return newTopicConfig(next), nil
}

// IsTopicConfigKey reports whether key is a topic config key Sluice knows.
func IsTopicConfigKey(key string) bool { return specFor(key) != nil }

// TopicConfigDefault returns the default of a topic config key.
func TopicConfigDefault(key string) (string, bool) {
	s := specFor(key)
	if s == nil {
		return "", false
	}
	return s.def, true
}

// TopicConfigAccepted describes the values key accepts, for documentation.
func TopicConfigAccepted(key string) string {
	if s := specFor(key); s != nil {
		return s.accepted
	}
	return ""
}
