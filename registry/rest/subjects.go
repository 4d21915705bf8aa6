package rest

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/registry"
)

// This file serves /subjects: listing, registration (§4.3), lookup (§4.4),
// versions (§4.5–4.8), the latest version carrying metadata (§4.12) and
// deletes (§4.9, §4.10).

// subjects is GET /subjects (§4.11). The default prefix ":*:" means every
// context; a prefix qualified with the default context is stripped to a plain
// one.
func (h *handler) subjects(c *call) (any, error) {
	prefix := c.query.Get("subjectPrefix")
	switch {
	case prefix == ":*:":
		prefix = ""
	case strings.HasPrefix(prefix, ":.:"):
		prefix = strings.TrimPrefix(prefix, ":.:")
	}
	if c.ctx != "" {
		prefix = c.qualify(prefix)
	}
	subjects, err := h.reg.Subjects(c.r.Context(), prefix, c.listOptions())
	if err != nil {
		return nil, err
	}
	return page(c, subjects)
}

// listOptions reads the deleted and deletedOnly parameters.
func (c *call) listOptions() registry.ListOptions {
	return registry.ListOptions{Deleted: c.boolParam("deleted"), DeletedOnly: c.boolParam("deletedOnly")}
}

// register is POST /subjects/{subject}/versions (§4.3); format
// (format.go) rewrites the schema text of the answer.
func (h *handler) register(c *call) (any, error) {
	var req schemaRequest
	if err := h.readBody(c, &req); err != nil {
		return nil, err
	}
	in, err := req.toSchema()
	if err != nil {
		return nil, err
	}
	sv, err := h.reg.Register(c.r.Context(), c.subject(), in, registry.RegisterOptions{
		Normalize: c.boolParam("normalize"),
		ID:        int(req.ID),
		Version:   int(req.Version),
	})
	if err != nil {
		return nil, err
	}
	text, err := h.formatted(c, sv.ID, sv.Text)
	if err != nil {
		return nil, err
	}
	return registerResponse{
		ID:         sv.ID,
		Version:    sv.Version,
		GUID:       sv.GUID().String(),
		SchemaType: schemaType(sv.Type),
		References: references(sv.References),
		Metadata:   nonEmpty(sv.Metadata),
		RuleSet:    nonEmpty(sv.RuleSet),
		Schema:     text,
	}, nil
}

// lookup is POST /subjects/{subject} (§4.4), with format.
func (h *handler) lookup(c *call) (any, error) {
	var req schemaRequest
	if err := h.readBody(c, &req); err != nil {
		return nil, err
	}
	in, err := req.toSchema()
	if err != nil {
		return nil, err
	}
	sv, err := h.reg.Lookup(c.r.Context(), c.subject(), in, registry.LookupOptions{
		Normalize: c.boolParam("normalize"),
		Deleted:   c.boolParam("deleted"),
	})
	if err != nil {
		return nil, err
	}
	return h.formattedRecord(c, sv)
}

// versions is GET /subjects/{subject}/versions (§4.5).
func (h *handler) versions(c *call) (any, error) {
	vs, err := h.reg.Versions(c.r.Context(), c.subject(), c.listOptions())
	if err != nil {
		return nil, err
	}
	return page(c, vs)
}

// version is GET /subjects/{subject}/versions/{version} (§4.6), with
// format, encoded once per stored version and format (cached.go).
func (h *handler) version(c *call) (any, error) {
	return h.cachedVersionCall(c, answerRecord)
}

// versionText is GET /subjects/{subject}/versions/{version}/schema (§4.7):
// the schema text itself, with format.
func (h *handler) versionText(c *call) (any, error) {
	return h.cachedVersionCall(c, answerText)
}

// cachedVersionCall is the cached answer of kind for the request's subject
// version.
func (h *handler) cachedVersionCall(c *call, kind registry.AnswerKind) (any, error) {
	v, err := parseVersion(c.args[1])
	if err != nil {
		return nil, err
	}
	return h.cachedVersion(c.r, c.subject(), v, c.boolParam("deleted"), c.query.Get("format"), kind)
}

// referencedBy is GET /subjects/{subject}/versions/{version}/referencedby
// (§4.8). The version is looked up including soft-deleted ones, and latest is
// resolved here so the core only ever sees concrete numbers.
func (h *handler) referencedBy(c *call) (any, error) {
	v, err := parseVersion(c.args[1])
	if err != nil {
		return nil, err
	}
	subject := c.subject()
	sv, err := h.reg.Version(c.r.Context(), subject, v, true)
	if err != nil {
		return nil, err
	}
	ids, err := h.reg.ReferencedBy(c.r.Context(), subject, sv.Version, c.boolParam("deleted"))
	if err != nil {
		return nil, err
	}
	return page(c, ids)
}

// deleteVersion is DELETE /subjects/{subject}/versions/{version} (§4.9); it
// answers the deleted version number as a bare integer.
func (h *handler) deleteVersion(c *call) (any, error) {
	v, err := parseVersion(c.args[1])
	if err != nil {
		return nil, err
	}
	n, err := h.reg.DeleteVersion(c.r.Context(), c.subject(), v, c.boolParam("permanent"))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// deleteSubject is DELETE /subjects/{subject} (§4.10); it answers the deleted
// version numbers.
func (h *handler) deleteSubject(c *call) (any, error) {
	vs, err := h.reg.DeleteSubject(c.r.Context(), c.subject(), c.boolParam("permanent"))
	if err != nil {
		return nil, err
	}
	if vs == nil {
		vs = []int{}
	}
	return vs, nil
}

// latestWithMetadata is GET /subjects/{subject}/metadata (§4.12): the latest
// version whose metadata.properties contain every key=value pair given as
// repeated key and value parameters, matched by position; with format.
func (h *handler) latestWithMetadata(c *call) (any, error) {
	keys, values := c.query["key"], c.query["value"]
	if len(keys) != len(values) {
		return nil, &httpError{status: 400, msg: fmt.Sprintf("query parameters: %d key but %d value parameters; they pair up by position", len(keys), len(values))}
	}
	props := make(map[string]string, len(keys))
	for i, k := range keys {
		if v, dup := props[k]; dup && v != values[i] {
			// No version can hold two values under one key.
			return nil, fmt.Errorf("subject %q: metadata property %q cannot be both %q and %q: %w", c.subject(), k, v, values[i], registry.ErrSchemaNotFound)
		}
		props[k] = values[i]
	}
	sv, err := h.reg.LatestWithMetadata(c.r.Context(), c.subject(), props, c.boolParam("deleted"))
	if err != nil {
		return nil, err
	}
	return h.formattedRecord(c, sv)
}
