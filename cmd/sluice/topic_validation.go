package main

// The effective schema validation of a topic, as `topic describe` shows
// it. The rule is the broker's (broker/config.go, broker/enforce.go): an
// explicit none, id or payload applies as it is; auto (the default) is
// payload while the subject <topic>-<side> has a live version and none
// otherwise, decided per produce request.

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluicehq/sluice/broker"
	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// validationJSON is one side's validation in `topic describe`.
type validationJSON struct {
	Side string `json:"side"`
	// Configured is the topic's config value (auto, none, id or payload).
	Configured string `json:"configured"`
	// Effective is what produce requests get now: none, id or payload;
	// "" when auto could not be resolved (registry unreachable).
	Effective string `json:"effective"`
	Reason    string `json:"reason"`
}

// effectiveValidation resolves both sides' validation of d, asking the
// registry for the live versions of <topic>-key and <topic>-value when a
// side is auto.
func effectiveValidation(ctx context.Context, reg *srclient.Reader, d *brokerv1.TopicDescription) []validationJSON {
	var out []validationJSON
	for _, side := range []serde.Side{serde.Key, serde.Value} {
		cfgKey := side.String() + ".schema.validation"
		v := validationJSON{Side: side.String(), Configured: d.GetConfigs()[cfgKey]}
		if v.Configured == "" {
			v.Configured = broker.ValidationAuto
		}
		if v.Configured != broker.ValidationAuto {
			v.Effective = v.Configured
			v.Reason = fmt.Sprintf("set on the topic: %s=%s", cfgKey, v.Configured)
			out = append(out, v)
			continue
		}
		subject := d.GetName() + "-" + side.String()
		versions, err := reg.Versions(ctx, subject)
		switch {
		case err != nil:
			v.Reason = fmt.Sprintf("auto: payload when subject %s has a live version, else none; the registry could not be asked: %v", subject, err)
		case len(versions) > 0:
			v.Effective = broker.ValidationPayload
			vs := make([]string, len(versions))
			for i, n := range versions {
				vs[i] = strconv.Itoa(n)
			}
			v.Reason = fmt.Sprintf("auto: subject %s has live versions (%s)", subject, strings.Join(vs, ", "))
		default:
			v.Effective = broker.ValidationNone
			v.Reason = fmt.Sprintf("auto: subject %s has no live version; registering one makes it payload", subject)
		}
		if st := d.GetConfigs()[side.String()+".subject.name.strategy"]; st != "" && st != string(serde.TopicName) {
			v.Reason += fmt.Sprintf("; auto looks at %s even with %s.subject.name.strategy=%s: set %s explicitly for that strategy", subject, side, st, cfgKey)
		}
		out = append(out, v)
	}
	return out
}

// printValidation prints the sides' validation as a table.
func printValidation(w io.Writer, vs []validationJSON) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEMA VALIDATION\tLEVEL")
	for _, v := range vs {
		level := v.Effective
		if level == "" {
			level = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%s (%s)\n", v.Side, level, v.Reason)
	}
	tw.Flush()
}
