package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// This file serves /config (§4.19) and /mode (§4.20). The subject argument
// is optional: without it the global level is addressed, and the core takes
// "" for global.

// configSubject is the route's subject argument, or "" for global. The
// qualified name of the default context (":.:") also means global here,
// because the core has only the default context.
func (c *call) configSubject() string {
	if len(c.args) == 0 {
		if c.ctx != "" {
			return ":" + c.ctx + ":"
		}
		return ""
	}
	s := c.subject()
	if s == ":.:" {
		return ""
	}
	return s
}

// otherConfigKeys are the config keys stored and echoed verbatim in
// SubjectConfig.Other, with the JSON shape each must have.
var otherConfigKeys = map[string]byte{
	"alias":               '"',
	"compatibilityPolicy": '"',
	"validateNewSchemas":  'b',
	"defaultMetadata":     '{',
	"overrideMetadata":    '{',
	"defaultRuleSet":      '{',
	"overrideRuleSet":     '{',
}

// configRequest is the body of PUT /config. Confluent's key is
// "compatibility"; "compatibilityLevel" (the GET key) is accepted too, because
// people copy GET answers into PUTs.
type configRequest struct {
	Compatibility      *string `json:"compatibility"`
	CompatibilityLevel *string `json:"compatibilityLevel"`
	Normalize          *bool   `json:"normalize"`
	ValidateFields     *bool   `json:"validateFields"`
	CompatibilityGroup *string `json:"compatibilityGroup"`
}

// parseLevel parses a compatibility level for the REST API (42203 when bad).
func parseLevel(s string) (compat.Level, error) {
	l, err := compat.ParseLevel(s)
	if err != nil {
		names := make([]string, len(compat.Levels))
		for i, l := range compat.Levels {
			names[i] = string(l)
		}
		return "", fmt.Errorf("compatibility %q: %w: want one of %s", s, registry.ErrInvalidCompatibility, strings.Join(names, ", "))
	}
	return l, nil
}

// getConfig is GET /config[/{subject}]; defaultToGlobal returns the
// effective configuration of a subject without one of its own.
func (h *handler) getConfig(c *call) (any, error) {
	cfg, err := h.reg.Config(c.r.Context(), c.configSubject(), c.boolParam("defaultToGlobal"))
	if err != nil {
		return nil, err
	}
	return configObject(cfg, "compatibilityLevel"), nil
}

// putConfig is PUT /config[/{subject}]: it merges the given keys and echoes
// them under the request's key names (compatibility, not compatibilityLevel).
func (h *handler) putConfig(c *call) (any, error) {
	var req configRequest
	if err := h.readBody(c, &req); err != nil {
		return nil, err
	}
	update, err := req.toConfig()
	if err != nil {
		return nil, err
	}
	// The typed decode above proved the body is an object; pick up the
	// verbatim keys from it.
	if update.Other, err = otherKeys(c); err != nil {
		return nil, err
	}
	if _, err := h.reg.SetConfig(c.r.Context(), c.configSubject(), update); err != nil {
		return nil, err
	}
	return configObject(update, "compatibility"), nil
}

func (req *configRequest) toConfig() (registry.SubjectConfig, error) {
	var cfg registry.SubjectConfig
	level := req.Compatibility
	if level == nil {
		level = req.CompatibilityLevel
	}
	if level != nil {
		l, err := parseLevel(*level)
		if err != nil {
			return cfg, err
		}
		cfg.Compatibility = &l
	}
	cfg.Normalize = req.Normalize
	cfg.ValidateFields = req.ValidateFields
	cfg.CompatibilityGroup = req.CompatibilityGroup
	return cfg, nil
}

// otherKeys re-reads the body (kept by readBody) for the verbatim keys.
func otherKeys(c *call) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &all); err != nil {
		return nil, &httpError{status: 400, msg: describeJSONError(err)}
	}
	var out map[string]json.RawMessage
	for k, v := range all {
		shape, ok := otherConfigKeys[k]
		v = bytes.TrimSpace(v)
		if !ok || string(v) == "null" {
			continue
		}
		var bad bool
		switch shape {
		case '"':
			bad = v[0] != '"'
		case '{':
			bad = v[0] != '{'
		case 'b':
			bad = string(v) != "true" && string(v) != "false"
		}
		if bad {
			want := map[byte]string{'"': "a string", '{': "an object", 'b': "true or false"}[shape]
			return nil, &httpError{status: 400, msg: fmt.Sprintf("request body: field %q: want %s", k, want)}
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return nil, &httpError{status: 400, msg: describeJSONError(err)}
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = buf.Bytes()
	}
	return out, nil
}

// deleteConfig is DELETE /config[/{subject}]: it answers the configuration
// that was removed (global: reset to the defaults).
func (h *handler) deleteConfig(c *call) (any, error) {
	cfg, err := h.reg.DeleteConfig(c.r.Context(), c.configSubject())
	if err != nil {
		return nil, err
	}
	return configObject(cfg, "compatibilityLevel"), nil
}

// configObject renders a configuration with the level under levelKey, then
// the typed keys, then the verbatim ones sorted, omitting unset keys.
func configObject(cfg registry.SubjectConfig, levelKey string) orderedObject {
	var o orderedObject
	if cfg.Compatibility != nil {
		o.add(levelKey, string(*cfg.Compatibility))
	}
	if cfg.Normalize != nil {
		o.add("normalize", *cfg.Normalize)
	}
	if cfg.ValidateFields != nil {
		o.add("validateFields", *cfg.ValidateFields)
	}
	if cfg.CompatibilityGroup != nil {
		o.add("compatibilityGroup", *cfg.CompatibilityGroup)
	}
	keys := make([]string, 0, len(cfg.Other))
	for k := range cfg.Other {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.add(k, cfg.Other[k])
	}
	return o
}

// orderedObject is a JSON object that keeps its members in insertion order.
type orderedObject []member

type member struct {
	key   string
	value any
}

func (o *orderedObject) add(k string, v any) { *o = append(*o, member{k, v}) }

// MarshalJSON encodes the members in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	buf := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := encodeJSON(m.key)
		if err != nil {
			return nil, err
		}
		v, err := encodeJSON(m.value)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, k...), ':'), v...)
	}
	return append(buf, '}'), nil
}

// modes are the modes a client may set (FORWARD is [8.x] and not offered).
var modes = []registry.Mode{registry.ReadWrite, registry.ReadOnly, registry.ReadOnlyOverride, registry.Import}

// parseMode parses a mode case-insensitively (42204 when bad).
func parseMode(s *string) (registry.Mode, error) {
	names := make([]string, len(modes))
	for i, m := range modes {
		names[i] = string(m)
	}
	if s == nil {
		return "", fmt.Errorf("mode is missing: %w: want one of %s", registry.ErrInvalidMode, strings.Join(names, ", "))
	}
	m := registry.Mode(strings.ToUpper(strings.TrimSpace(*s)))
	if !slices.Contains(modes, m) {
		return "", fmt.Errorf("mode %q: %w: want one of %s", *s, registry.ErrInvalidMode, strings.Join(names, ", "))
	}
	return m, nil
}

// modeBody is the body of the mode endpoints, both ways.
type modeBody struct {
	Mode *string `json:"mode"`
}

type modeResponse struct {
	Mode registry.Mode `json:"mode"`
}

// getMode is GET /mode[/{subject}].
func (h *handler) getMode(c *call) (any, error) {
	m, err := h.reg.Mode(c.r.Context(), c.configSubject(), c.boolParam("defaultToGlobal"))
	if err != nil {
		return nil, err
	}
	return modeResponse{m}, nil
}

// putMode is PUT /mode[/{subject}]; force allows IMPORT with live subjects.
func (h *handler) putMode(c *call) (any, error) {
	var req modeBody
	if err := h.readBody(c, &req); err != nil {
		return nil, err
	}
	m, err := parseMode(req.Mode)
	if err != nil {
		return nil, err
	}
	got, err := h.reg.SetMode(c.r.Context(), c.configSubject(), m, c.boolParam("force"))
	if err != nil {
		return nil, err
	}
	return modeResponse{got}, nil
}

// deleteMode is DELETE /mode[/{subject}]: it answers the removed mode. The
// recursive parameter is accepted; with one context there is nothing more to
// remove.
func (h *handler) deleteMode(c *call) (any, error) {
	m, err := h.reg.DeleteMode(c.r.Context(), c.configSubject())
	if err != nil {
		return nil, err
	}
	return modeResponse{m}, nil
}
