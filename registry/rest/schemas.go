package rest

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/serde"
)

// This file serves /schemas (§4.2, §4.13–4.16), the root probes (§4.1),
// /v1/metadata and /contexts (§4.21).

// root is GET /: a cheap health probe.
func (h *handler) root(c *call) (any, error) { return struct{}{}, nil }

// rootPost is POST /: accepts any body and answers {} like Confluent.
func (h *handler) rootPost(c *call) (any, error) { return struct{}{}, nil }

// metadataID is GET /v1/metadata/id.
func (h *handler) metadataID(c *call) (any, error) {
	type scope struct {
		Path     []string          `json:"path"`
		Clusters map[string]string `json:"clusters"`
	}
	return struct {
		Scope scope `json:"scope"`
	}{scope{
		Path:     []string{},
		Clusters: map[string]string{"kafka-cluster": h.cluster, "schema-registry-cluster": "schema-registry"},
	}}, nil
}

// metadataVersion is GET /v1/metadata/version.
func (h *handler) metadataVersion(c *call) (any, error) {
	return struct {
		Version  string `json:"version"`
		CommitID string `json:"commitId"`
	}{h.serverVersion, h.commit}, nil
}

// vcsRevision is the commit the binary was built from, or "unknown".
func vcsRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// contexts is GET /contexts: the core's contexts, "." first.
func (h *handler) contexts(c *call) (any, error) {
	return page(c, h.reg.Contexts(c.r.Context()))
}

// schemaTypes is GET /schemas/types.
func (h *handler) schemaTypes(c *call) (any, error) {
	return []serde.Format{serde.JSON, serde.Protobuf, serde.Avro}, nil
}

// schemas is GET /schemas (§4.16): full records ordered by subject, version.
func (h *handler) schemas(c *call) (any, error) {
	prefix := strings.TrimPrefix(c.query.Get("subjectPrefix"), ":.:")
	if c.ctx != "" {
		prefix = c.qualify(prefix)
	}
	svs, err := h.reg.Schemas(c.r.Context(), prefix, registry.ListOptions{Deleted: c.boolParam("deleted")}, c.boolParam("latestOnly"))
	if err != nil {
		return nil, err
	}
	out := make([]schemaRecord, len(svs))
	for i, sv := range svs {
		out[i] = record(sv)
	}
	return page(c, out)
}

// schemaID parses the {id} argument. The core has one id space, the default
// context's; an id asked for in another context (by path prefix or by a
// qualified subject parameter) is therefore unknown.
func (h *handler) schemaID(c *call) (int, error) {
	id, err := parseID(c.args[0])
	if err != nil {
		return 0, err
	}
	if sub := c.query.Get("subject"); c.ctx != "" || (strings.HasPrefix(sub, ":.") && !strings.HasPrefix(sub, ":.:")) {
		return 0, fmt.Errorf("schema id %d: %w in context %q (ids are served for the default context only)", id, registry.ErrSchemaNotFound, contextOf(c, sub))
	}
	return id, nil
}

// contextOf names the context a request addresses, for messages.
func contextOf(c *call, subject string) string {
	if c.ctx != "" {
		return c.ctx
	}
	if len(subject) < 2 {
		return "."
	}
	if i := strings.IndexByte(subject[1:], ':'); i >= 0 {
		return subject[1 : i+1]
	}
	return "."
}

// schemaByID is GET /schemas/ids/{id} (§4.13). Soft-deleted uses still
// resolve, which keeps old data decodable. fetchMaxId adds maxId; format
// (format.go) rewrites the schema text. The answer without maxId is
// encoded once per id and format (cached.go).
func (h *handler) schemaByID(c *call) (any, error) {
	id, err := h.schemaID(c)
	if err != nil {
		return nil, err
	}
	if !c.boolParam("fetchMaxId") {
		return h.cachedByID(c.r, id, c.query.Get("format"), answerSchemaByID)
	}
	s, err := h.reg.SchemaByID(c.r.Context(), id)
	if err != nil {
		return nil, err
	}
	text, err := h.formatted(c, id, s.Text)
	if err != nil {
		return nil, err
	}
	resp := schemaByIDBody(s, text)
	resp.MaxID = h.reg.MaxID()
	return resp, nil
}

// schemaTextByID is GET /schemas/ids/{id}/schema (§4.14), with format.
func (h *handler) schemaTextByID(c *call) (any, error) {
	id, err := h.schemaID(c)
	if err != nil {
		return nil, err
	}
	return h.cachedByID(c.r, id, c.query.Get("format"), answerText)
}

// subjectsByID is GET /schemas/ids/{id}/subjects (§4.15); the subject
// parameter filters the list.
func (h *handler) subjectsByID(c *call) (any, error) {
	id, err := h.schemaID(c)
	if err != nil {
		return nil, err
	}
	subjects, err := h.reg.SubjectsByID(c.r.Context(), id, registry.ListOptions{Deleted: c.boolParam("deleted")})
	if err != nil {
		return nil, err
	}
	if sub, ok := c.subjectFilter(); ok {
		subjects = slices.DeleteFunc(subjects, func(s string) bool { return s != sub })
	}
	return page(c, subjects)
}

// versionsByID is GET /schemas/ids/{id}/versions (§4.15).
func (h *handler) versionsByID(c *call) (any, error) {
	id, err := h.schemaID(c)
	if err != nil {
		return nil, err
	}
	refs, err := h.reg.VersionsByID(c.r.Context(), id, registry.ListOptions{Deleted: c.boolParam("deleted")})
	if err != nil {
		return nil, err
	}
	if sub, ok := c.subjectFilter(); ok {
		refs = slices.DeleteFunc(refs, func(r registry.SubjectVersionRef) bool { return r.Subject != sub })
	}
	return page(c, refs)
}

// subjectFilter is the subject query parameter, without a default-context
// qualifier, when given and not empty.
func (c *call) subjectFilter() (string, bool) {
	s := c.query.Get("subject")
	if s == "" {
		return "", false
	}
	return strings.TrimPrefix(s, ":.:"), true
}
