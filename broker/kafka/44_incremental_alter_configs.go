package kafka

// IncrementalAlterConfigs, v0-1: per key SET, DELETE (back to the default),
// APPEND or SUBTRACT (list keys only: cleanup.policy). Keys as in
// CreateTopics: Sluice's apply, Kafka keys meaningless on one node are
// accepted and ignored, others are INVALID_CONFIG; a key given twice is
// INVALID_REQUEST. Broker configs are read-only (INVALID_REQUEST).
// validate_only checks and changes nothing.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
)

func init() { register(kmsg.IncrementalAlterConfigs, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(c *Conn, kreq kmsg.Request) (kmsg.Response, func() kmsg.Response, error) {
	req := kreq.(*kmsg.IncrementalAlterConfigsRequest)
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, rr := range req.Resources {
		sr := kmsg.NewIncrementalAlterConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		code, err := incrementalAlter(c, req, &rr)
		sr.ErrorCode, sr.ErrorMessage = code, errText(err)
		resp.Resources = append(resp.Resources, sr)
	}
	return resp, nil, nil
}

func incrementalAlter(c *Conn, req *kmsg.IncrementalAlterConfigsRequest, rr *kmsg.IncrementalAlterConfigsRequestResource) (int16, error) {
	if code, err := alterResource(rr.ResourceType, rr.ResourceName); code != 0 {
		return code, err
	}
	names := make([]string, len(rr.Configs))
	for i, cf := range rr.Configs {
		names[i] = cf.Name
	}
	if k := duplicateKey(names); k != "" {
		return kerr.InvalidRequest.Code, fmt.Errorf("config %q is given twice", k)
	}
	ti, err := c.Server().Broker().DescribeTopic(rr.ResourceName)
	if err != nil {
		return topicErrorCode(err), err
	}
	set := map[string]string{}
	var del []string
	var errs []string
	for _, cf := range rr.Configs {
		k := cf.Name
		ik, ignored := ignoredTopicKeys[k]
		if !broker.IsTopicConfigKey(k) && !ignored {
			errs = append(errs, fmt.Sprintf("config %q: unknown key", k))
			continue
		}
		if cf.Op != kmsg.IncrementalAlterConfigOpDelete && cf.Value == nil {
			errs = append(errs, fmt.Sprintf("config %s: a null value is not allowed", k))
			continue
		}
		isList := sluiceKeyTypes[k] == kmsg.ConfigTypeList || ignored && ik.typ == kmsg.ConfigTypeList
		switch cf.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if ignored {
				if err := checkIgnored(ik, *cf.Value); err != nil {
					errs = append(errs, fmt.Sprintf("config %s: %v", k, err))
				}
				continue
			}
			set[k] = *cf.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			if !ignored {
				del = append(del, k)
			}
		case kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if !isList {
				errs = append(errs, fmt.Sprintf("config %s: %s applies to list configs only", k, cf.Op))
				continue
			}
			if ignored {
				continue
			}
			cur := listOf(ti.Config.Effective[k])
			for _, item := range listOf(*cf.Value) {
				if cf.Op == kmsg.IncrementalAlterConfigOpAppend && !slices.Contains(cur, item) {
					cur = append(cur, item)
				} else if cf.Op == kmsg.IncrementalAlterConfigOpSubtract {
					cur = slices.DeleteFunc(cur, func(s string) bool { return s == item })
				}
			}
			set[k] = strings.Join(cur, ",")
		default:
			return kerr.InvalidRequest.Code, fmt.Errorf("config %s: unknown operation %d", k, cf.Op)
		}
	}
	if len(errs) > 0 {
		return kerr.InvalidConfig.Code, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return alterTopic(c, rr.ResourceName, set, del, req.ValidateOnly)
}
