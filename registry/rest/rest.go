// Package rest serves the registry over the Confluent Schema Registry REST API
// (shared/spec/registry-api.md), so that existing Confluent clients work
// unchanged: the Java CachedSchemaRegistryClient, confluent-kafka-go and
// -python, franz-go's sr package, rpk.
//
// # What is served
//
// Every [core] and [7.x] endpoint of spec §3, for the default context ".":
// the root probes, /schemas (types, ids, raw text, usages), /subjects
// (register, lookup, versions, raw text, referencedby, metadata, deletes),
// /compatibility, /config, /mode, /contexts and /v1/metadata. Any path may be
// prefixed with /contexts/{context}/; for a context other than "." subjects in
// the path and the subject query parameters are qualified as ":.ctx:name" and
// handed to the core, which decides whether it knows that context.
// GET /schemas/guids/{guid} and /schemas/guids/{guid}/ids [8.x] look a schema
// up by its content GUID (wire-format spec §8), and every answer with a
// stored schema (by id or guid, version, register, lookup, metadata, GET
// /schemas) carries "guid", as 8.x does. The format parameter (format.go)
// selects Confluent's per-type output formats: Protobuf "serialized" and
// "ignore_extensions", Avro "resolved". Other [8.x]
// endpoints (tags, associations, DELETE /contexts/...) and the
// out-of-scope trees (/exporters, /dek-registry, /keks, /catalog) answer the
// framework 404 envelope, and unknown query parameters are ignored, as an
// older Confluent server would.
//
// # Conventions
//
// Responses are compact UTF-8 JSON with empty members omitted (schemaType is
// omitted for Avro, as servers up to 7.9 do), typed
// application/vnd.schemaregistry.v1+json unless the Accept header asks for
// application/vnd.schemaregistry+json or application/json. Request bodies are
// read as JSON whatever their content type among the four of spec §2.1, an
// absent one, or application/x-www-form-urlencoded (what `curl -d` sends);
// any other content type is refused with 415.
//
// Errors are the envelope {"error_code": N, "message": "..."}; errors.go maps
// registry errors to codes in one function. Framework-level errors use the bare
// HTTP status as error_code: 400 for a body that is not the expected JSON, 404
// for unknown paths and non-numeric ids, 405 for a known path with another
// method, 413 for a body over Config.MaxBodyBytes (a framework limit on the
// request, distinct from 42209, which the core returns for a schema text over
// its own limit), 415 for an unsupported content type.
package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/acl"
	"github.com/sluicehq/sluice/registry"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 2 << 20

// DefaultVersion is what GET /v1/metadata/version reports when
// Config.Version is empty: a 7.x-like string, because this server implements
// the 7.x tier and clients gate 7.x features on the major version.
const DefaultVersion = "7.9.0-sluice"

// Config configures the REST handler.
type Config struct {
	// Logger receives one Error line per request that failed inside the
	// server; nil discards.
	Logger *slog.Logger
	// MaxBodyBytes limits request bodies; 0 means 2 MiB.
	MaxBodyBytes int64
	// Version is reported by GET /v1/metadata/version; empty means
	// DefaultVersion.
	Version string
	// CommitID is reported by GET /v1/metadata/version; empty means the VCS
	// revision recorded in the binary, or "unknown".
	CommitID string
	// ClusterID names the cluster in GET /v1/metadata/id; empty means "sluice".
	ClusterID string
	// MaxListLimit caps the entries of one page of a paginated list
	// (spec §2.4), whatever limit the client asks for; 0 means no cap.
	MaxListLimit int
	// ACL, when it enforces, authorizes every request with the principal
	// in its context (authorize.go); nil allows everything.
	ACL *acl.Authorizer
}

// The response content types of spec §2.1, most preferred first.
const (
	contentTypeV1      = "application/vnd.schemaregistry.v1+json"
	contentTypeGeneric = "application/vnd.schemaregistry+json"
	contentTypeJSON    = "application/json"
)

// handler is the REST API. It holds no per-request state and is safe for
// concurrent use.
type handler struct {
	reg           *registry.Registry
	log           *slog.Logger
	maxBody       int64
	serverVersion string
	commit        string
	cluster       string
	maxList       int
	negotiated    negotiated // remembered Accept negotiations (cached.go)
	acl           *acl.Authorizer
}

// NewHandler returns the REST API as an http.Handler, meant to be mounted at
// "/". The handler is safe for concurrent use; it recovers panics, answering
// the 500 envelope and logging once at Error.
func NewHandler(reg *registry.Registry, cfg Config) http.Handler {
	h := &handler{
		reg:           reg,
		log:           cfg.Logger,
		maxBody:       cfg.MaxBodyBytes,
		serverVersion: cfg.Version,
		commit:        cfg.CommitID,
		cluster:       cfg.ClusterID,
		maxList:       cfg.MaxListLimit,
		acl:           cfg.ACL,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.serverVersion == "" {
		h.serverVersion = DefaultVersion
	}
	if h.commit == "" {
		h.commit = vcsRevision()
	}
	if h.cluster == "" {
		h.cluster = "sluice"
	}
	return h
}

// call is one request being served: the matched route's path arguments
// (URL-decoded), the schema context named by a /contexts prefix, the query and
// the negotiated response type.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	args  []string
	ctx   string // "" for the default context, else ".name"
	query url.Values
	ctype string
	body  []byte // the request body, once readBody has read it
	wrote bool
	// maxList is Config.MaxListLimit.
	maxList int
}

// rawText is a handler result written as is (the /schema endpoints), not
// encoded as a JSON string.
type rawText string

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The cached answers skip routing, hence authorization: not with ACLs.
	if r.Method == http.MethodGet && !h.acl.Enforcing() && h.serveCached(w, r) {
		return
	}
	h.serve(w, r)
}

// serve answers any request through the router.
func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, query: r.URL.Query(), ctype: h.contentType(r.Header.Get("Accept")), maxList: h.maxList}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p) // the server's own signal to drop the connection
			}
			h.log.Error("panic in REST handler", "method", r.Method, "path", r.URL.Path, "panic", p)
			if !c.wrote {
				h.writeEnvelope(c, http.StatusInternalServerError, http.StatusInternalServerError, "Internal Server Error")
			}
		}
	}()
	fn, err := h.route(c)
	if err != nil {
		h.writeError(c, err)
		return
	}
	allowed, filter := h.authorize(c)
	if !allowed {
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			h.writeError(c, err)
			return
		}
	}
	v, err := fn(h, c)
	if err != nil {
		h.writeError(c, err)
		return
	}
	if filter {
		v = h.filterListing(c, v)
	}
	h.writeValue(c, http.StatusOK, v)
}

// writeValue encodes v as the response body with status; an *answer is
// written as it is.
func (h *handler) writeValue(c *call, status int, v any) {
	if a, ok := v.(*answer); ok && status == http.StatusOK {
		c.wrote = true
		h.writeAnswer(c.w, c.r, c.ctype, a)
		return
	}
	var body []byte
	if s, ok := v.(rawText); ok {
		body = []byte(s)
	} else {
		var err error
		if body, err = encodeJSON(v); err != nil {
			// Only our own response types reach here, so this is a bug.
			h.log.Error("encode REST response", "method", c.r.Method, "path", c.r.URL.Path, "error", err)
			h.writeEnvelope(c, http.StatusInternalServerError, http.StatusInternalServerError, "Internal Server Error")
			return
		}
	}
	if h.log.Enabled(c.r.Context(), slog.LevelDebug) {
		h.log.LogAttrs(c.r.Context(), slog.LevelDebug, "REST request",
			slog.String("method", c.r.Method), slog.String("path", c.r.URL.Path), slog.Int("status", status))
	}
	c.wrote = true
	c.w.Header().Set("Content-Type", c.ctype)
	c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	c.w.Write(body)
}

// encodeJSON is json.Marshal without HTML escaping (Confluent's Jackson
// does not escape <, > and &, and some clients compare payloads literally)
// and without the encoder's trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// negotiate picks the response content type from an Accept header: the
// supported type with the highest quality, the v1 type for */*, an absent
// header, or nothing supported (being lenient here costs nothing, and a 406
// would only break odd clients).
func negotiate(accept string) string {
	if accept == "" {
		return contentTypeV1
	}
	best, bestQ := contentTypeV1, -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		var ct string
		switch mt {
		case contentTypeV1, "*/*", "application/*":
			ct = contentTypeV1
		case contentTypeGeneric:
			ct = contentTypeGeneric
		case contentTypeJSON:
			ct = contentTypeJSON
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = ct, q
		}
	}
	return best
}

// checkContentType accepts the request content types of spec §2.1, an absent
// one, and the form type curl sends with -d; every body is read as JSON.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return &httpError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("HTTP 415 Unsupported Media Type: malformed Content-Type %q", ct)}
	}
	switch mt {
	case contentTypeV1, contentTypeGeneric, contentTypeJSON, "application/octet-stream", "application/x-www-form-urlencoded":
		return nil
	}
	return &httpError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("HTTP 415 Unsupported Media Type: Content-Type %q; want %s or application/json", mt, contentTypeV1)}
}

// readBody reads the request body into v (a pointer to a request struct),
// enforcing the body limit and naming what is wrong in the JSON.
func (h *handler) readBody(c *call, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, h.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)}
		}
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("reading request body: %v", err)}
	}
	c.body = body
	if len(bytes.TrimSpace(body)) == 0 {
		return &httpError{status: http.StatusBadRequest, msg: "request body is empty: want a JSON object"}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &httpError{status: http.StatusBadRequest, msg: describeJSONError(err)}
	}
	return nil
}

// describeJSONError turns an encoding/json error into a message saying what is
// wrong and where, without Go type names.
func describeJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("request body is not valid JSON: at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		want := jsonKind(te.Type.Kind().String())
		if te.Field == "" {
			return fmt.Sprintf("request body: got JSON %s, want %s", te.Value, want)
		}
		return fmt.Sprintf("request body: field %q: got JSON %s, want %s", te.Field, te.Value, want)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body is not valid JSON: unexpected end of input"
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return "request body: " + fe.Error()
	}
	return "request body: " + strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the JSON shape a Go kind decodes from.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a 32-bit integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return kind
}

// fieldError is a request field with the right JSON type but an unusable
// value, found while decoding; it becomes a 400.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return fmt.Sprintf("field %q: %s", e.field, e.msg) }
