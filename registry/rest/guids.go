package rest

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/registry"
)

// schemaGUID parses the {guid} path argument. GUIDs are content hashes
// served for the default context only, like integer ids.
func (h *handler) schemaGUID(c *call) (uuid.UUID, error) {
	g, err := uuid.Parse(c.args[0])
	if err != nil {
		return uuid.UUID{}, &httpError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("schema guid %q is not a UUID (want 8-4-4-4-12 hex digits)", c.args[0])}
	}
	if c.ctx != "" {
		return uuid.UUID{}, fmt.Errorf("schema guid %s: %w in context %q (guids are served for the default context only)", g, registry.ErrSchemaNotFound, c.ctx)
	}
	return g, nil
}

// schemaByGUID is GET /schemas/guids/{guid} [8.x]: the body of GET
// /schemas/ids/{id} for the schema whose content has guid (wire-format
// spec §8). fetchMaxId adds maxId; format (format.go) rewrites the schema
// text.
func (h *handler) schemaByGUID(c *call) (any, error) {
	g, err := h.schemaGUID(c)
	if err != nil {
		return nil, err
	}
	s, id, err := h.reg.SchemaByGUID(c.r.Context(), g)
	if err != nil {
		return nil, err
	}
	text, err := h.formatted(c, id, s.Text)
	if err != nil {
		return nil, err
	}
	resp := schemaByIDResponse{
		SchemaType: schemaType(s.Type),
		Schema:     text,
		References: references(s.References),
		Metadata:   nonEmpty(s.Metadata),
		RuleSet:    nonEmpty(s.RuleSet),
		GUID:       g.String(),
	}
	if c.boolParam("fetchMaxId") {
		resp.MaxID = h.reg.MaxID()
	}
	return resp, nil
}

// idsByGUID is GET /schemas/guids/{guid}/ids [8.x]: the ids that store the
// content with guid, ascending.
func (h *handler) idsByGUID(c *call) (any, error) {
	g, err := h.schemaGUID(c)
	if err != nil {
		return nil, err
	}
	return h.reg.IDsByGUID(c.r.Context(), g)
}
