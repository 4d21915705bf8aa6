package kafka

// DescribeConfigs, v0-4: a topic's configs (Sluice's keys, overrides as
// DYNAMIC_TOPIC_CONFIG and the rest DEFAULT_CONFIG, then the Kafka keys
// Sluice accepts and ignores at the values it behaves as), and broker 0's
// few read-only keys (STATIC_BROKER_CONFIG). config_names filters; synonyms
// (v1+) give an override's default; documentation (v3+) says what a key
// accepts or why it is ignored. An unknown topic is
// UNKNOWN_TOPIC_OR_PARTITION; another broker or resource type is
// INVALID_REQUEST.

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.DescribeConfigs, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.DescribeConfigsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	s := c.Server()
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		entries, code, err := resourceConfigs(s, rr.ResourceType, rr.ResourceName)
		sr.ErrorCode, sr.ErrorMessage = code, errText(err)
		for _, e := range entries {
			if rr.ConfigNames != nil && !slices.Contains(rr.ConfigNames, e.name) {
				continue
			}
			sr.Configs = append(sr.Configs, describeEntry(req, e))
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil, nil
}

// resourceConfigs lists the configs of one resource.
func resourceConfigs(s *Server, typ kmsg.ConfigResourceType, name string) ([]configEntry, int16, error) {
	switch typ {
	case kmsg.ConfigResourceTypeTopic:
		ti, err := s.Broker().DescribeTopic(name)
		if err != nil {
			return nil, topicErrorCode(err), err
		}
		return topicConfigEntries(ti.Config), 0, nil
	case kmsg.ConfigResourceTypeBroker:
		if !brokerResource(name) {
			return nil, kerr.InvalidRequest.Code, fmt.Errorf("broker %q: Sluice is one node, broker 0", name)
		}
		return brokerConfigEntries(s), 0, nil
	}
	return nil, kerr.InvalidRequest.Code, fmt.Errorf("resource type %d: Sluice has configs for topics (2) and broker 0 (4)", typ)
}

func describeEntry(req *kmsg.DescribeConfigsRequest, e configEntry) kmsg.DescribeConfigsResponseResourceConfig {
	rc := kmsg.NewDescribeConfigsResponseResourceConfig()
	v := e.value
	rc.Name, rc.Value, rc.ReadOnly = e.name, &v, e.readOnly
	rc.IsDefault = e.source == kmsg.ConfigSourceDefaultConfig
	rc.Source = e.source
	rc.ConfigType = e.typ
	if req.IncludeSynonyms {
		syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		syn.Name, syn.Value, syn.Source = e.name, &v, e.source
		rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
		if e.def != nil {
			d := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			d.Name, d.Value, d.Source = e.name, e.def, kmsg.ConfigSourceDefaultConfig
			rc.ConfigSynonyms = append(rc.ConfigSynonyms, d)
		}
	}
	if req.IncludeDocumentation && e.doc != "" {
		doc := e.doc
		rc.Documentation = &doc
	}
	return rc
}
