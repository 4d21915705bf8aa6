package rest

import (
	"strings"

	"github.com/sluicehq/sluice/registry"
)

// The format query parameter (Confluent's per-type output formats,
// registry.FormatDefault) is read by every endpoint that answers a schema
// text and that Confluent gives it: GET /schemas/ids/{id}[/schema], GET
// /schemas/guids/{guid}, GET /subjects/{s}/versions/{v}[/schema], POST
// /subjects/{s}/versions, POST /subjects/{s} and GET
// /subjects/{s}/metadata. It rewrites only the schema text; the guid stays
// that of the stored content, as in Confluent. Absent or blank, the stored
// text is served without parsing; a format the schema's type does not have
// is ignored.

// formatted returns text, the stored text of the schema with id, in the
// format the request asks for.
func (h *handler) formatted(c *call, id int, text string) (string, error) {
	f := c.query.Get("format")
	if strings.TrimSpace(f) == "" {
		return text, nil
	}
	return h.reg.FormatSchema(c.r.Context(), id, f)
}

// formattedRecord is record(sv) with the schema text in the format the
// request asks for.
func (h *handler) formattedRecord(c *call, sv registry.SubjectVersion) (schemaRecord, error) {
	out := record(sv)
	text, err := h.formatted(c, sv.ID, sv.Text)
	if err != nil {
		return schemaRecord{}, err
	}
	out.Schema = text
	return out, nil
}
