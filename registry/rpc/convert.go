package rpc

import (
	"fmt"
	"strings"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// This file converts between the proto messages and the core's types.

// schemaIn converts a request schema; a nil schema is an empty Avro schema,
// which the core treats as "reuse the previous version" or refuses.
func schemaIn(s *registryv1.Schema) (registry.Schema, error) {
	var out registry.Schema
	switch s.GetType() {
	case registryv1.SchemaType_SCHEMA_TYPE_UNSPECIFIED, registryv1.SchemaType_SCHEMA_TYPE_AVRO:
		out.Type = serde.Avro
	case registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF:
		out.Type = serde.Protobuf
	case registryv1.SchemaType_SCHEMA_TYPE_JSON:
		out.Type = serde.JSON
	default:
		return out, &registry.InvalidSchemaError{Reason: fmt.Sprintf("unknown schema type %d", s.GetType())}
	}
	out.Text = s.GetText()
	for _, r := range s.GetReferences() {
		out.References = append(out.References, registry.Reference{Name: r.GetName(), Subject: r.GetSubject(), Version: int(r.GetVersion())})
	}
	return out, nil
}

func schemaOut(s registry.Schema) *registryv1.Schema {
	out := &registryv1.Schema{Text: s.Text}
	switch s.Type {
	case serde.Protobuf:
		out.Type = registryv1.SchemaType_SCHEMA_TYPE_PROTOBUF
	case serde.JSON:
		out.Type = registryv1.SchemaType_SCHEMA_TYPE_JSON
	default:
		out.Type = registryv1.SchemaType_SCHEMA_TYPE_AVRO
	}
	for _, r := range s.References {
		out.References = append(out.References, &registryv1.Reference{Name: r.Name, Subject: r.Subject, Version: int32(r.Version)})
	}
	return out
}

func subjectVersionOut(sv registry.SubjectVersion) *registryv1.SubjectVersion {
	return &registryv1.SubjectVersion{
		Subject: sv.Subject,
		Version: int32(sv.Version),
		Id:      int32(sv.ID),
		Schema:  schemaOut(sv.Schema),
		Deleted: sv.Deleted,
		Guid:    guidOut(sv.Schema),
	}
}

// guidOut is the content GUID of a stored schema as its 16 bytes.
func guidOut(s registry.Schema) []byte {
	g := s.GUID()
	return g[:]
}

// levels pairs the proto enum with the core's levels.
var levels = map[registryv1.Compatibility]compat.Level{
	registryv1.Compatibility_COMPATIBILITY_NONE:                compat.None,
	registryv1.Compatibility_COMPATIBILITY_BACKWARD:            compat.Backward,
	registryv1.Compatibility_COMPATIBILITY_BACKWARD_TRANSITIVE: compat.BackwardTransitive,
	registryv1.Compatibility_COMPATIBILITY_FORWARD:             compat.Forward,
	registryv1.Compatibility_COMPATIBILITY_FORWARD_TRANSITIVE:  compat.ForwardTransitive,
	registryv1.Compatibility_COMPATIBILITY_FULL:                compat.Full,
	registryv1.Compatibility_COMPATIBILITY_FULL_TRANSITIVE:     compat.FullTransitive,
}

func levelIn(c registryv1.Compatibility) (compat.Level, error) {
	if l, ok := levels[c]; ok {
		return l, nil
	}
	return "", fmt.Errorf("compatibility %d: %w", c, registry.ErrInvalidCompatibility)
}

func levelOut(l compat.Level) registryv1.Compatibility {
	for c, v := range levels {
		if v == l {
			return c
		}
	}
	return registryv1.Compatibility_COMPATIBILITY_UNSPECIFIED
}

// violationsOut converts violations; the direction and the rule's kind, which
// the proto has no fields for, go into the message.
func violationsOut(vs []compat.Violation) []*registryv1.Violation {
	out := make([]*registryv1.Violation, len(vs))
	for i, v := range vs {
		var b strings.Builder
		if v.Direction != "" {
			b.WriteString(v.Direction + ": ")
		}
		b.WriteString(v.Message)
		if v.Kind != "" {
			b.WriteString(" [" + v.Kind + "]")
		}
		out[i] = &registryv1.Violation{Path: v.Path, Message: b.String(), Version: int32(v.Version)}
	}
	return out
}

// checkVersion refuses version numbers that are neither positive nor
// registry.Latest, before they reach the core.
func checkVersion(v int) error {
	if v == registry.Latest || v > 0 {
		return nil
	}
	return fmt.Errorf("version %d: %w: want a positive number or -1 for the latest", v, registry.ErrInvalidVersion)
}

func notFoundID(id int) error {
	return fmt.Errorf("schema id %d: %w", id, registry.ErrSchemaNotFound)
}
