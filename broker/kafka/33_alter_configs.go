package kafka

// AlterConfigs, v0-2 (the legacy, non-incremental form): a topic's overrides
// become exactly the configs given; keys not given return to their defaults.
// Keys as in CreateTopics: Sluice's apply, Kafka keys meaningless on one
// node are accepted and ignored, others are INVALID_CONFIG. Broker configs
// are read-only (INVALID_REQUEST). validate_only checks and changes nothing.

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(kmsg.AlterConfigs, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.AlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		code, err := alterConfigs(c, req, &rr)
		sr.ErrorCode, sr.ErrorMessage = code, errText(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil, nil
}

func alterConfigs(c *Conn, req *kmsg.AlterConfigsRequest, rr *kmsg.AlterConfigsRequestResource) (int16, error) {
	if code, err := alterResource(rr.ResourceType, rr.ResourceName); code != 0 {
		return code, err
	}
	names := make([]string, len(rr.Configs))
	values := make([]*string, len(rr.Configs))
	for i, cf := range rr.Configs {
		names[i], values[i] = cf.Name, cf.Value
	}
	if k := duplicateKey(names); k != "" {
		return kerr.InvalidRequest.Code, fmt.Errorf("config %q is given twice", k)
	}
	set, err := splitTopicConfigs(names, values)
	if err != nil {
		return kerr.InvalidConfig.Code, err
	}
	ti, err := c.Server().Broker().DescribeTopic(rr.ResourceName)
	if err != nil {
		return topicErrorCode(err), err
	}
	var del []string
	for _, k := range slices.Sorted(maps.Keys(ti.Config.Overrides)) {
		if _, ok := set[k]; !ok {
			del = append(del, k)
		}
	}
	return alterTopic(c, rr.ResourceName, set, del, req.ValidateOnly)
}
