package kafka

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

// What AlterConfigs and IncrementalAlterConfigs share: checking the
// resource, then altering (or with validate_only checking) a topic's
// overrides through the broker core.

// errBrokerReadOnly refuses altering broker 0.
var errBrokerReadOnly = errors.New("broker configs are read-only: set them with sluice serve flags")

// alterResource checks the resource type and name; a non-zero code refuses.
func alterResource(typ kmsg.ConfigResourceType, name string) (int16, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		return 0, nil
	case kmsg.ConfigResourceTypeBroker:
		if !brokerResource(name) {
			return kerr.InvalidRequest.Code, fmt.Errorf("broker %q: Sluice is one node, broker 0", name)
		}
		return kerr.InvalidRequest.Code, errBrokerReadOnly
	}
	return kerr.InvalidRequest.Code, fmt.Errorf("resource type %d: Sluice has configs for topics (2) and broker 0 (4)", typ)
}

// alterTopic applies set and del to topic's overrides, or only checks them.
func alterTopic(c *Conn, topic string, set map[string]string, del []string, validateOnly bool) (int16, error) {
	b := c.Server().Broker()
	var err error
	if validateOnly || len(set) == 0 && len(del) == 0 {
		_, err = b.CheckAlterTopicConfigs(topic, set, del)
	} else if _, err = b.AlterTopicConfigs(c.Context(), topic, set, del); err == nil {
		c.Logger().Info("topic configs altered over Kafka", "topic", topic, "client_id", c.ClientID())
	}
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, broker.ErrInvalidArgument):
		return kerr.InvalidConfig.Code, err
	}
	return topicErrorCode(err), err
}

// duplicateKey returns a key named twice, or "".
func duplicateKey(names []string) string {
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}

// listOf splits a LIST config value.
func listOf(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
