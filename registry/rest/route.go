package rest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// handlerFunc serves one endpoint: it returns the value to encode (or rawText)
// or an error for the envelope.
type handlerFunc func(h *handler, c *call) (any, error)

// route is one endpoint: a method and a path whose "*" segments are
// arguments. The router is ours rather than http.ServeMux because subjects may
// contain encoded slashes and be empty, trailing slashes are tolerated, the
// /contexts/{ctx} prefix applies to every path, and unknown paths and methods
// must answer the Confluent envelope.
type route struct {
	method string
	path   []string
	fn     handlerFunc
}

func r(method, path string, fn handlerFunc) route {
	return route{method: method, path: strings.Split(strings.Trim(path, "/"), "/"), fn: fn}
}

// routes is the endpoint catalogue of spec §3 ([core] and [7.x]).
var routes = []route{
	r(http.MethodGet, "/", (*handler).root),
	r(http.MethodPost, "/", (*handler).rootPost),
	r(http.MethodGet, "/v1/metadata/id", (*handler).metadataID),
	r(http.MethodGet, "/v1/metadata/version", (*handler).metadataVersion),
	r(http.MethodGet, "/contexts", (*handler).contexts),

	r(http.MethodGet, "/schemas", (*handler).schemas),
	r(http.MethodGet, "/schemas/types", (*handler).schemaTypes),
	r(http.MethodGet, "/schemas/ids/*", (*handler).schemaByID),
	r(http.MethodGet, "/schemas/ids/*/schema", (*handler).schemaTextByID),
	r(http.MethodGet, "/schemas/ids/*/subjects", (*handler).subjectsByID),
	r(http.MethodGet, "/schemas/ids/*/versions", (*handler).versionsByID),
	r(http.MethodGet, "/schemas/guids/*", (*handler).schemaByGUID),
	r(http.MethodGet, "/schemas/guids/*/ids", (*handler).idsByGUID),

	r(http.MethodGet, "/subjects", (*handler).subjects),
	r(http.MethodPost, "/subjects/*", (*handler).lookup),
	r(http.MethodDelete, "/subjects/*", (*handler).deleteSubject),
	r(http.MethodGet, "/subjects/*/metadata", (*handler).latestWithMetadata),
	r(http.MethodGet, "/subjects/*/versions", (*handler).versions),
	r(http.MethodPost, "/subjects/*/versions", (*handler).register),
	r(http.MethodGet, "/subjects/*/versions/*", (*handler).version),
	r(http.MethodGet, "/subjects/*/versions/*/schema", (*handler).versionText),
	r(http.MethodGet, "/subjects/*/versions/*/referencedby", (*handler).referencedBy),
	r(http.MethodDelete, "/subjects/*/versions/*", (*handler).deleteVersion),

	r(http.MethodPost, "/compatibility/subjects/*/versions/*", (*handler).compatibilityWithVersion),
	r(http.MethodPost, "/compatibility/subjects/*/versions", (*handler).compatibilityWithHistory),

	r(http.MethodGet, "/config", (*handler).getConfig),
	r(http.MethodPut, "/config", (*handler).putConfig),
	r(http.MethodDelete, "/config", (*handler).deleteConfig),
	r(http.MethodGet, "/config/*", (*handler).getConfig),
	r(http.MethodPut, "/config/*", (*handler).putConfig),
	r(http.MethodDelete, "/config/*", (*handler).deleteConfig),

	r(http.MethodGet, "/mode", (*handler).getMode),
	r(http.MethodPut, "/mode", (*handler).putMode),
	r(http.MethodDelete, "/mode", (*handler).deleteMode),
	r(http.MethodGet, "/mode/*", (*handler).getMode),
	r(http.MethodPut, "/mode/*", (*handler).putMode),
	r(http.MethodDelete, "/mode/*", (*handler).deleteMode),
}

// errNotFound is the framework's answer for paths outside the catalogue,
// worded as Confluent's Jersey words it.
var errNotFound = &httpError{status: http.StatusNotFound, msg: "HTTP 404 Not Found"}

// route matches the request against the catalogue, filling c.args and c.ctx.
func (h *handler) route(c *call) (handlerFunc, error) {
	segs, err := splitPath(c.r.URL.EscapedPath())
	if err != nil {
		return nil, errNotFound
	}
	// /contexts/{ctx}/rest... addresses rest inside a context; /contexts
	// alone is the context listing.
	if len(segs) >= 3 && segs[0] == "contexts" {
		c.ctx = normalizeContext(segs[1])
		segs = segs[2:]
	}
	var allowed []string
	for _, rt := range routes {
		args, ok := match(rt.path, segs)
		if !ok {
			continue
		}
		if rt.method != c.r.Method {
			allowed = append(allowed, rt.method)
			continue
		}
		c.args = args
		return rt.fn, nil
	}
	if len(allowed) > 0 {
		slices.Sort(allowed)
		c.w.Header().Set("Allow", strings.Join(allowed, ", "))
		return nil, &httpError{status: http.StatusMethodNotAllowed, msg: "HTTP 405 Method Not Allowed"}
	}
	return nil, errNotFound
}

// splitPath splits an escaped URL path into URL-decoded segments, dropping
// trailing slashes, so that "%2F" inside a subject stays inside its segment.
// The root path gives [""] to match the "/" routes.
func splitPath(escaped string) ([]string, error) {
	p := strings.TrimLeft(escaped, "/")
	p = strings.TrimRight(p, "/")
	parts := strings.Split(p, "/")
	for i, s := range parts {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		parts[i] = u
	}
	return parts, nil
}

// match reports whether segs fit pattern and returns the "*" arguments.
func match(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range pattern {
		switch {
		case p == "*":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

// normalizeContext maps a /contexts/{ctx} path segment to "" for the default
// context (".", ":.:", or empty) and to ".name" otherwise.
func normalizeContext(s string) string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, ":"), ":")
	if s == "" || s == "." {
		return ""
	}
	if !strings.HasPrefix(s, ".") {
		s = "." + s
	}
	return s
}

// qualify returns subject as the core must see it: unchanged in the default
// context or when already qualified, otherwise ":.ctx:subject".
func (c *call) qualify(subject string) string {
	if c.ctx == "" || strings.HasPrefix(subject, ":.") {
		return subject
	}
	return ":" + c.ctx + ":" + subject
}

// subject is the request's subject path argument (always the first one),
// qualified with the request's context.
func (c *call) subject() string { return c.qualify(c.args[0]) }
