package rest

// Authorization of the Confluent REST API (DESIGN.md §10). With
// Config.ACL enforcing (the node authenticates), every request is checked
// after routing and before its handler runs, from the table below (one entry
// per route; a route without one is refused, and a test checks there is
// none), with the principal the authentication middleware put in the
// request's context; a refusal is HTTP 403 with the Confluent body
// {"error_code":40301,"message":"principal \"alice\" is not authorized to
// write subject \"orders-value\""}. The answers are those of the
// RegistryService over Connect (server/acl.go) for the same work:
//
//   - register: write on the subject; lookup, read a version, its schema,
//     referencedby, latest with metadata, compatibility checks: read;
//     list versions: describe; delete a subject or version: delete.
//   - config and mode: describe (GET) or alter (PUT, DELETE) on the subject,
//     or on the cluster for the global ones.
//   - a schema by id or GUID: read on one of the subjects it is a version
//     of (an unknown id is left to the handler: 404).
//   - listings (GET /subjects, /schemas, /schemas/ids/{id}/subjects and
//     /versions) leave out the subjects the principal may not describe
//     (after paging: a page may come back shorter).
//   - open to every authenticated principal: GET /, POST /, /v1/metadata/*,
//     /contexts, /schemas/types.
//
// While ACLs are enforced the cached GET answers (cached.go) are bypassed,
// so that every read is checked.

import (
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/registry"
)

// codeForbidden is Confluent's error code for an authorization refusal.
const codeForbidden = 40301

// restCheck is one route's authorization.
type restCheck struct {
	// op on resource (the route's subject, or the cluster when global) is
	// checked, unless op is acl.OpAny (open, or checked by check).
	op     acl.Operation
	global bool // the cluster, not the subject of args[0]
	check  func(h *handler, c *call) error
	// filter trims a listing to the subjects the principal may describe.
	filter bool
}

var (
	open          = restCheck{}
	subjectRead   = restCheck{op: acl.Read}
	subjectDesc   = restCheck{op: acl.Describe}
	subjectWrite  = restCheck{op: acl.Write}
	subjectDelete = restCheck{op: acl.Delete}
	subjectAlter  = restCheck{op: acl.Alter}
	clusterDesc   = restCheck{op: acl.Describe, global: true}
	clusterAlter  = restCheck{op: acl.Alter, global: true}
	byID          = restCheck{check: (*handler).readSchemaID}
	byGUID        = restCheck{check: (*handler).readSchemaGUID}
	listing       = restCheck{filter: true}
)

// restChecks is keyed by method and route path as written in routes.
var restChecks = map[string]restCheck{
	"GET /":                       open,
	"POST /":                      open,
	"GET /v1/metadata/id":         open,
	"GET /v1/metadata/version":    open,
	"GET /contexts":               open,
	"GET /schemas/types":          open,
	"GET /schemas":                listing,
	"GET /schemas/ids/*":          byID,
	"GET /schemas/ids/*/schema":   byID,
	"GET /schemas/ids/*/subjects": {check: (*handler).readSchemaID, filter: true},
	"GET /schemas/ids/*/versions": {check: (*handler).readSchemaID, filter: true},
	"GET /schemas/guids/*":        byGUID,
	"GET /schemas/guids/*/ids":    byGUID,

	"GET /subjects":                           listing,
	"POST /subjects/*":                        subjectRead,
	"DELETE /subjects/*":                      subjectDelete,
	"GET /subjects/*/metadata":                subjectRead,
	"GET /subjects/*/versions":                subjectDesc,
	"POST /subjects/*/versions":               subjectWrite,
	"GET /subjects/*/versions/*":              subjectRead,
	"GET /subjects/*/versions/*/schema":       subjectRead,
	"GET /subjects/*/versions/*/referencedby": subjectRead,
	"DELETE /subjects/*/versions/*":           subjectDelete,

	"POST /compatibility/subjects/*/versions/*": subjectRead,
	"POST /compatibility/subjects/*/versions":   subjectRead,

	"GET /config":      clusterDesc,
	"PUT /config":      clusterAlter,
	"DELETE /config":   clusterAlter,
	"GET /config/*":    subjectDesc,
	"PUT /config/*":    subjectAlter,
	"DELETE /config/*": subjectAlter,
	"GET /mode":        clusterDesc,
	"PUT /mode":        clusterAlter,
	"DELETE /mode":     clusterAlter,
	"GET /mode/*":      subjectDesc,
	"PUT /mode/*":      subjectAlter,
	"DELETE /mode/*":   subjectAlter,
}

// routeKey is a route's key in restChecks.
func routeKey(rt route) string { return rt.method + " /" + strings.Join(rt.path, "/") }

// matched returns the route c matched (route filled c.args).
func matched(c *call) (route, bool) {
	segs, err := splitPath(c.r.URL.EscapedPath())
	if err != nil {
		return route{}, false
	}
	if len(segs) >= 3 && segs[0] == "contexts" {
		segs = segs[2:]
	}
	for _, rt := range routes {
		if _, ok := match(rt.path, segs); ok && rt.method == c.r.Method {
			return rt, true
		}
	}
	return route{}, false
}

// authorize checks the routed call c; false means the 403 was written.
// filter reports whether the handler's listing must be trimmed.
func (h *handler) authorize(c *call) (ok, filter bool) {
	if !h.acl.Enforcing() {
		return true, false
	}
	rt, found := matched(c)
	chk, known := restChecks[routeKey(rt)]
	if !found || !known {
		h.writeEnvelope(c, http.StatusForbidden, codeForbidden, "no ACL rule for "+c.r.Method+" "+c.r.URL.Path)
		return false, false
	}
	var err error
	switch {
	case chk.check != nil:
		err = chk.check(h, c)
	case chk.op == acl.OpAny:
	case chk.global:
		err = h.acl.Authorize(c.r.Context(), chk.op, acl.ClusterResource())
	default:
		err = h.acl.Authorize(c.r.Context(), chk.op, acl.SubjectResource(c.subject()))
	}
	if err != nil {
		h.writeEnvelope(c, http.StatusForbidden, codeForbidden, err.Error())
		return false, false
	}
	return true, chk.filter
}

// readSchemaID: read on one of the subjects the schema id is a version of.
func (h *handler) readSchemaID(c *call) error {
	id, err := parseID(c.args[0])
	if err != nil {
		return nil // the handler answers the bad id
	}
	return h.readSchema(c, id)
}

func (h *handler) readSchemaGUID(c *call) error {
	g, err := uuid.Parse(c.args[0])
	if err != nil {
		return nil
	}
	ids, err := h.reg.IDsByGUID(c.r.Context(), g)
	if err != nil || len(ids) == 0 {
		return nil
	}
	return h.readSchema(c, ids[0])
}

func (h *handler) readSchema(c *call, id int) error {
	subjects, err := h.reg.SubjectsByID(c.r.Context(), id, registry.ListOptions{Deleted: true})
	if err != nil {
		return nil // unknown id: 404 from the handler
	}
	res := make([]acl.Resource, len(subjects))
	for i, s := range subjects {
		res[i] = acl.SubjectResource(s)
	}
	return h.acl.AuthorizeAny(c.r.Context(), acl.Read, res)
}

// filterListing drops from v the subjects the principal may not describe.
func (h *handler) filterListing(c *call, v any) any {
	ctx := c.r.Context()
	ok := func(s string) bool { return h.acl.Allowed(ctx, acl.Describe, acl.SubjectResource(s)) }
	switch xs := v.(type) {
	case []string:
		out := xs[:0:0]
		for _, s := range xs {
			if ok(s) {
				out = append(out, s)
			}
		}
		return out
	case []schemaRecord:
		out := xs[:0:0]
		for _, r := range xs {
			if ok(r.Subject) {
				out = append(out, r)
			}
		}
		return out
	case []registry.SubjectVersionRef:
		out := xs[:0:0]
		for _, r := range xs {
			if ok(r.Subject) {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}
