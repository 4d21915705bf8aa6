package rest

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/registry"
)

// Pre-encoded answers. The schema of an id and a stored version never
// change, so the bodies of GET /schemas/ids/{id}[/schema] and GET
// /subjects/{s}/versions/{v}[/schema] are encoded once per id or version,
// output format and endpoint, and kept with the stored entry in the core
// (registry.CachedByID, CachedVersion), which drops them with it. The
// common forms of these requests (no /contexts prefix, no trailing slash,
// no escapes in the path or query) are answered by serveCached before the
// general router runs, without allocating once the answer is cached; every
// other form goes through the router to the same cached answers.

// The kinds of cached answer.
var (
	answerSchemaByID = registry.NewAnswerKind() // GET /schemas/ids/{id}: schemaByIDResponse without maxId
	answerText       = registry.NewAnswerKind() // GET .../schema: the schema text itself
	answerRecord     = registry.NewAnswerKind() // GET /subjects/{s}/versions/{v}: schemaRecord
)

// answer is an encoded response body with its Content-Length header value.
// It is shared by every request it answers: never modify it.
type answer struct {
	body   []byte
	length []string
}

func newAnswer(body []byte) *answer {
	return &answer{body: body, length: []string{strconv.Itoa(len(body))}}
}

// buildSchemaByID encodes the answer of GET /schemas/ids/{id} for schema s
// whose text in the requested format is text.
func buildSchemaByID(s registry.Schema, text string) (any, error) {
	body, err := encodeJSON(schemaByIDBody(s, text))
	if err != nil {
		return nil, err
	}
	return newAnswer(body), nil
}

// schemaByIDBody is the body of GET /schemas/ids/{id} (without maxId).
func schemaByIDBody(s registry.Schema, text string) schemaByIDResponse {
	return schemaByIDResponse{
		SchemaType: schemaType(s.Type),
		Schema:     text,
		References: references(s.References),
		Metadata:   nonEmpty(s.Metadata),
		RuleSet:    nonEmpty(s.RuleSet),
		GUID:       s.GUID().String(),
	}
}

// buildText is the answer of the /schema endpoints: the text as is.
func buildText(_ registry.Schema, text string) (any, error) {
	return newAnswer([]byte(text)), nil
}

// buildVersionText is buildText for a subject version.
func buildVersionText(_ registry.SubjectVersion, text string) (any, error) {
	return newAnswer([]byte(text)), nil
}

// buildRecord encodes the answer of GET /subjects/{s}/versions/{v}.
func buildRecord(sv registry.SubjectVersion, text string) (any, error) {
	rec := record(sv)
	rec.Schema = text
	body, err := encodeJSON(rec)
	if err != nil {
		return nil, err
	}
	return newAnswer(body), nil
}

// cachedByID returns the cached answer of kind for the schema with id in
// format.
func (h *handler) cachedByID(r *http.Request, id int, format string, kind registry.AnswerKind) (*answer, error) {
	build := buildSchemaByID
	if kind == answerText {
		build = buildText
	}
	v, err := h.reg.CachedByID(r.Context(), id, format, kind, build)
	if err != nil {
		return nil, err
	}
	return v.(*answer), nil
}

// cachedVersion returns the cached answer of kind for a subject version.
func (h *handler) cachedVersion(r *http.Request, subject string, version int, deleted bool, format string, kind registry.AnswerKind) (*answer, error) {
	build := buildRecord
	if kind == answerText {
		build = buildVersionText
	}
	v, err := h.reg.CachedVersion(r.Context(), subject, version, deleted, format, kind, build)
	if err != nil {
		return nil, err
	}
	return v.(*answer), nil
}

// serveCached answers the common forms of the cached endpoints and reports
// whether it did. It declines (and the general path answers) anything
// unusual: escapes, a trailing slash, fetchMaxId, a context, and every
// error, whose answers the general path words. A panic is recovered and
// declined too, so that the general path (which recovers with a logged 500)
// answers it.
func (h *handler) serveCached(w http.ResponseWriter, r *http.Request) (served bool) {
	if r.URL.RawPath != "" {
		return false // the path has escapes (an encoded slash, say)
	}
	q, ok := scanQuery(r.URL.RawQuery)
	if !ok {
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			served = false
		}
	}()
	var a *answer
	var err error
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/schemas/ids/"):
		idArg, tail, found := strings.Cut(p[len("/schemas/ids/"):], "/")
		kind := answerSchemaByID
		switch {
		case !found:
		case tail == "schema":
			kind = answerText
		default:
			return false
		}
		if isTrue(q.fetchMaxID) || (strings.HasPrefix(q.subject, ":.") && !strings.HasPrefix(q.subject, ":.:")) {
			return false
		}
		id, perr := parseID(idArg)
		if perr != nil {
			return false
		}
		a, err = h.cachedByID(r, id, q.format, kind)
	case strings.HasPrefix(p, "/subjects/"):
		subject, rest, _ := strings.Cut(p[len("/subjects/"):], "/")
		versions, rest, _ := strings.Cut(rest, "/")
		versionArg, tail, found := strings.Cut(rest, "/")
		if versions != "versions" || versionArg == "" || (found && tail == "") {
			return false
		}
		kind := answerRecord
		switch {
		case !found:
		case tail == "schema":
			kind = answerText
		default:
			return false
		}
		v, perr := parseVersion(versionArg)
		if perr != nil {
			return false
		}
		a, err = h.cachedVersion(r, subject, v, isTrue(q.deleted), q.format, kind)
	default:
		return false
	}
	if err != nil {
		return false
	}
	h.writeAnswer(w, r, h.contentType(r.Header.Get("Accept")), a)
	return true
}

// writeAnswer writes a cached answer with status 200.
func (h *handler) writeAnswer(w http.ResponseWriter, r *http.Request, ctype string, a *answer) {
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "REST request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", http.StatusOK))
	}
	hd := w.Header()
	hd["Content-Type"] = contentTypeHeader(ctype)
	hd["Content-Length"] = a.length
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
}

// The Content-Type header values, shared by every response: never modify.
var (
	headerV1      = []string{contentTypeV1}
	headerGeneric = []string{contentTypeGeneric}
	headerJSON    = []string{contentTypeJSON}
)

func contentTypeHeader(ctype string) []string {
	switch ctype {
	case contentTypeGeneric:
		return headerGeneric
	case contentTypeJSON:
		return headerJSON
	}
	return headerV1
}

// cachedQuery holds the query parameters the cached endpoints read.
type cachedQuery struct {
	format, fetchMaxID, subject, deleted string
}

// scanQuery reads the parameters of cachedQuery from a raw query as
// url.ParseQuery and Values.Get would (the first value of each name), without
// allocating. ok is false when the query has escapes or semicolons, which
// the general parser handles.
func scanQuery(raw string) (q cachedQuery, ok bool) {
	if strings.ContainsAny(raw, "%+;") {
		return q, false
	}
	var seen [4]bool
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		var i int
		var dst *string
		switch name {
		case "format":
			i, dst = 0, &q.format
		case "fetchMaxId":
			i, dst = 1, &q.fetchMaxID
		case "subject":
			i, dst = 2, &q.subject
		case "deleted":
			i, dst = 3, &q.deleted
		default:
			continue
		}
		if !seen[i] {
			seen[i], *dst = true, value
		}
	}
	return q, true
}

// isTrue is boolParam's rule for a parameter value.
func isTrue(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "true") }

// maxNegotiated bounds the Accept headers whose negotiation is remembered.
const maxNegotiated = 64

// negotiated remembers negotiate's answers for the Accept headers clients
// send (each client sends the same one every time), so that the cached
// path does not parse media types.
type negotiated struct {
	mu sync.RWMutex
	m  map[string]string
}

// contentType is negotiate(accept), remembered.
func (h *handler) contentType(accept string) string {
	switch accept {
	case "", "*/*", contentTypeV1:
		return contentTypeV1
	}
	n := &h.negotiated
	n.mu.RLock()
	ct, ok := n.m[accept]
	n.mu.RUnlock()
	if ok {
		return ct
	}
	ct = negotiate(accept)
	n.mu.Lock()
	if n.m == nil {
		n.m = map[string]string{}
	}
	if len(n.m) < maxNegotiated {
		n.m[strings.Clone(accept)] = ct
	}
	n.mu.Unlock()
	return ct
}
