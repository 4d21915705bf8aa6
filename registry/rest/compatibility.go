package rest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// This file serves /compatibility (§4.17, §4.18): a candidate is checked
// without being registered. Both endpoints answer {"is_compatible": bool};
// with verbose=true they add "messages": one line per violation (version,
// direction, location, message and kind), then the old schema's version and
// text and the level, in the spirit of Confluent's messages (clients must not
// parse them). An invalid candidate is 42201, except with verbose=true, where
// Confluent answers 200 is_compatible:false with the parse error as message.

// compatibilityWithVersion is POST /compatibility/subjects/{s}/versions/{v}:
// the candidate against one version (or latest) in the level's directions.
func (h *handler) compatibilityWithVersion(c *call) (any, error) {
	v, err := parseVersion(c.args[1])
	if err != nil {
		return nil, err
	}
	return h.checkCompatibility(c, v)
}

// compatibilityWithHistory is POST /compatibility/subjects/{s}/versions: the
// exact check a registration would make.
func (h *handler) compatibilityWithHistory(c *call) (any, error) {
	return h.checkCompatibility(c, 0)
}

func (h *handler) checkCompatibility(c *call, version int) (any, error) {
	var req schemaRequest
	if err := h.readBody(c, &req); err != nil {
		return nil, err
	}
	verbose := c.boolParam("verbose")
	in, err := req.toSchema()
	var res registry.CompatibilityResult
	if err == nil {
		res, err = h.reg.CheckCompatibility(c.r.Context(), c.subject(), in, version, c.boolParam("normalize"))
	}
	var ise *registry.InvalidSchemaError
	if err != nil {
		if verbose && errors.As(err, &ise) {
			return compatibilityResponse{IsCompatible: false, Messages: []string{err.Error()}}, nil
		}
		return nil, err
	}
	resp := compatibilityResponse{IsCompatible: res.Compatible}
	if verbose && !res.Compatible {
		resp.Messages = h.verboseMessages(c, res)
	}
	return resp, nil
}

// verboseMessages renders every violation, then the version checked against,
// its text (when it can still be read) and the level.
func (h *handler) verboseMessages(c *call, res registry.CompatibilityResult) []string {
	msgs := make([]string, 0, len(res.Violations)+3)
	old := 0
	for _, v := range res.Violations {
		msgs = append(msgs, violationMessage(v))
		if old == 0 {
			old = v.Version
		}
	}
	if old > 0 {
		msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d}", old))
		if sv, err := h.reg.Version(c.r.Context(), c.subject(), old, true); err == nil {
			msgs = append(msgs, fmt.Sprintf("{oldSchema: '%s'}", sv.Text))
		}
	}
	if res.Level != "" {
		msgs = append(msgs, fmt.Sprintf("{compatibility: '%s'}", res.Level))
	}
	return msgs
}

// violationMessage renders one violation as
// "version 2, backward: /fields/1: message [KIND]".
func violationMessage(v compat.Violation) string {
	var b strings.Builder
	var head []string
	if v.Version > 0 {
		head = append(head, fmt.Sprintf("version %d", v.Version))
	}
	if v.Direction != "" {
		head = append(head, v.Direction)
	}
	if len(head) > 0 {
		b.WriteString(strings.Join(head, ", "))
		b.WriteString(": ")
	}
	b.WriteString(v.String())
	if v.Kind != "" {
		fmt.Fprintf(&b, " [%s]", v.Kind)
	}
	return b.String()
}
