package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
)

// schemaRequest is the body of register, lookup and compatibility requests
// (spec §4.3). Unknown members are ignored. Pointers tell "absent or null"
// from zero values where the difference matters.
type schemaRequest struct {
	Schema     *string            `json:"schema"`
	SchemaType *string            `json:"schemaType"`
	References []referenceRequest `json:"references"`
	Metadata   json.RawMessage    `json:"metadata"`
	RuleSet    json.RawMessage    `json:"ruleSet"`
	// ID and Version are int32 so that out-of-range numbers fail decoding
	// with a clear 400 rather than reaching the core.
	ID      int32 `json:"id"`
	Version int32 `json:"version"`
}

// referenceRequest is one element of references; version -1 means latest.
type referenceRequest struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int32  `json:"version"`
}

// toSchema converts the request into the core's input, validating the parts
// that the JSON decoder cannot: the schema type and the shape of metadata and
// ruleSet.
func (req *schemaRequest) toSchema() (registry.Schema, error) {
	var s registry.Schema
	if req.Schema != nil {
		s.Text = *req.Schema
	}
	s.Type = serde.Avro
	if req.SchemaType != nil && *req.SchemaType != "" {
		f := serde.Format(*req.SchemaType)
		if !f.Valid() {
			// Case-sensitive on purpose, as Confluent: "avro" is unknown.
			return s, &registry.InvalidSchemaError{Reason: fmt.Sprintf("unknown schemaType %q: want AVRO, PROTOBUF or JSON", *req.SchemaType)}
		}
		s.Type = f
	}
	for _, r := range req.References {
		s.References = append(s.References, registry.Reference{Name: r.Name, Subject: r.Subject, Version: int(r.Version)})
	}
	var err error
	if s.Metadata, err = compactObject("metadata", req.Metadata); err != nil {
		return s, err
	}
	if s.RuleSet, err = compactObject("ruleSet", req.RuleSet); err != nil {
		return s, err
	}
	return s, nil
}

// compactObject returns raw compacted, nil when absent or null, and a 400 when
// it is not a JSON object.
func compactObject(field string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, &httpError{status: 400, msg: fmt.Sprintf("request body: field %q: want a JSON object", field)}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, &httpError{status: 400, msg: fmt.Sprintf("request body: field %q: %v", field, err)}
	}
	return buf.Bytes(), nil
}

// reference is a reference in responses.
type reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func references(rs []registry.Reference) []reference {
	if len(rs) == 0 {
		return nil
	}
	out := make([]reference, len(rs))
	for i, r := range rs {
		out[i] = reference{Name: r.Name, Subject: r.Subject, Version: r.Version}
	}
	return out
}

// schemaType renders a format for responses: omitted for Avro (and for an
// unset type, which the core treats as Avro), as servers up to 7.9 do.
func schemaType(f serde.Format) string {
	if f == serde.Avro {
		return ""
	}
	return string(f)
}

// schemaRecord is a subject version in responses (GET version, lookup,
// latest with metadata, GET /schemas), in Confluent's member order. GUID is
// the content GUID of the stored schema (wire-format spec §8), which 8.x
// clients read to write header-mode ids; it stays that of the stored
// content when format rewrites Schema, as in Confluent.
type schemaRecord struct {
	Subject    string          `json:"subject"`
	Version    int             `json:"version"`
	ID         int             `json:"id"`
	GUID       string          `json:"guid"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

func record(sv registry.SubjectVersion) schemaRecord {
	return schemaRecord{
		Subject:    sv.Subject,
		Version:    sv.Version,
		ID:         sv.ID,
		GUID:       sv.GUID().String(),
		SchemaType: schemaType(sv.Type),
		References: references(sv.References),
		Metadata:   nonEmpty(sv.Metadata),
		RuleSet:    nonEmpty(sv.RuleSet),
		Schema:     sv.Text,
	}
}

// registerResponse is the answer to a registration: what 7.6+ servers echo
// (RegisterSchemaResponse). Clients read id, version and, from 8.x, guid
// (for header-mode ids); the rest is informational.
type registerResponse struct {
	ID         int             `json:"id"`
	Version    int             `json:"version"`
	GUID       string          `json:"guid"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

// schemaByIDResponse is GET /schemas/ids/{id} (spec §4.13).
type schemaByIDResponse struct {
	SchemaType string          `json:"schemaType,omitempty"`
	Schema     string          `json:"schema"`
	References []reference     `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	MaxID      int             `json:"maxId,omitempty"`
	GUID       string          `json:"guid,omitempty"`
}

// nonEmpty drops a stored "null" or empty object so that it is omitted.
func nonEmpty(raw json.RawMessage) json.RawMessage {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" || s == "{}" {
		return nil
	}
	return raw
}

// compatibilityResponse is the answer of the compatibility endpoints.
type compatibilityResponse struct {
	IsCompatible bool     `json:"is_compatible"`
	Messages     []string `json:"messages,omitempty"`
}

// parseVersion parses a version path argument (spec §1.1): "latest"
// (case-insensitive, spaces trimmed) or -1 mean the latest live version;
// otherwise an integer in 1 … 2^31-1.
func parseVersion(s string) (int, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "latest") {
		return registry.Latest, nil
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil || n == 0 || n < -1 {
		return 0, fmt.Errorf("version %q: %w: want an integer from 1 to %d, -1 or \"latest\"", s, registry.ErrInvalidVersion, math.MaxInt32)
	}
	return int(n), nil
}

// parseID parses a schema id path argument. A non-number is a framework 404
// (the path does not exist), as in Confluent; a number that no schema can
// have is 40403.
func parseID(s string) (int, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, errNotFound
	}
	if n <= 0 {
		return 0, fmt.Errorf("schema id %d: %w", n, registry.ErrSchemaNotFound)
	}
	return int(n), nil
}

// boolParam reads a boolean query parameter: "true" in any case is true,
// anything else (or absence) false, as Jersey's Boolean conversion does.
func (c *call) boolParam(name string) bool {
	return strings.EqualFold(strings.TrimSpace(c.query.Get(name)), "true")
}

// page applies the offset and limit query parameters (spec §2.4) to a list
// that is already filtered; limit < 1 means unlimited, and Config.MaxListLimit
// caps it. A list is never nil, so empty answers encode as [].
func page[T any](c *call, xs []T) ([]T, error) {
	offset, err := intParam(c, "offset", 0)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(c, "limit", -1)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		offset = 0
	}
	if c.maxList > 0 && (limit < 1 || limit > c.maxList) {
		limit = c.maxList
	}
	if offset >= len(xs) {
		return []T{}, nil
	}
	xs = xs[offset:]
	if limit > 0 && limit < len(xs) {
		xs = xs[:limit]
	}
	return xs, nil
}

func intParam(c *call, name string, def int) (int, error) {
	s := strings.TrimSpace(c.query.Get(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, &httpError{status: 400, msg: fmt.Sprintf("query parameter %s=%q: want an integer", name, c.query.Get(name))}
	}
	return int(n), nil
}
