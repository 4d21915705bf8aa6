package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// TestErrorCode checks the one mapping from errors to (status, error_code),
// for every registry error, wrapped as the core wraps them.
func TestErrorCode(t *testing.T) {
	tests := []struct {
		err            error
		status, code   int
		internalLogged bool
	}{
		{registry.ErrSubjectNotFound, 404, 40401, false},
		{registry.ErrVersionNotFound, 404, 40402, false},
		{registry.ErrSchemaNotFound, 404, 40403, false},
		{registry.ErrSubjectSoftDeleted, 404, 40404, false},
		{registry.ErrSubjectNotSoftDeleted, 404, 40405, false},
		{registry.ErrVersionSoftDeleted, 404, 40406, false},
		{registry.ErrVersionNotSoftDeleted, 404, 40407, false},
		{registry.ErrSubjectConfigNotFound, 404, 40408, false},
		{registry.ErrSubjectModeNotFound, 404, 40409, false},
		{&registry.IncompatibleError{Subject: "s", Level: compat.Backward}, 409, 409, false},
		{&registry.InvalidSchemaError{Reason: "bad"}, 422, 42201, false},
		{compat.ErrNotSupported, 422, 42201, false},
		{registry.ErrInvalidVersion, 422, 42202, false},
		{registry.ErrInvalidCompatibility, 422, 42203, false},
		{registry.ErrInvalidMode, 422, 42204, false},
		{registry.ErrOperationNotPermitted, 422, 42205, false},
		{registry.ErrReferenceExists, 422, 42206, false},
		{registry.ErrInvalidSubject, 422, 42208, false},
		{registry.ErrSchemaTooLarge, 422, 42209, false},
		{registry.ErrInvalidRuleSet, 422, 42210, false},
		{registry.ErrContextNotEmpty, 422, 42211, false},
		{registry.ErrStore, 500, 50001, true},
		{context.DeadlineExceeded, 500, 50002, false},
		{&httpError{status: 413, msg: "big"}, 413, 413, false},
		{errors.New("surprise"), 500, 500, true},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			// The core wraps errors with the subject or id concerned.
			err := fmt.Errorf("subject %q: %w", "orders-value", tt.err)
			status, code, internal := errorCode(err)
			if status != tt.status || code != tt.code || internal != tt.internalLogged {
				t.Errorf("errorCode(%v) = %d, %d, %v; want %d, %d, %v", err, status, code, internal, tt.status, tt.code, tt.internalLogged)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true},
		{"2147483647", 2147483647, true},
		{"latest", registry.Latest, true},
		{" LaTeSt ", registry.Latest, true},
		{"-1", registry.Latest, true},
		{"0", 0, false},
		{"-2", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"2147483648", 0, false},
		{"1.5", 0, false},
	}
	for _, tt := range tests {
		got, err := parseVersion(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("parseVersion(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, registry.ErrInvalidVersion) {
			t.Errorf("parseVersion(%q) error %v is not ErrInvalidVersion", tt.in, err)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct{ accept, want string }{
		{"", contentTypeV1},
		{"*/*", contentTypeV1},
		{"application/json", contentTypeJSON},
		{"application/vnd.schemaregistry+json", contentTypeGeneric},
		{"application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; q=0.9, application/json; q=0.5", contentTypeV1},
		{"application/json; q=0.5, application/vnd.schemaregistry+json", contentTypeGeneric},
		{"text/html", contentTypeV1},
		{"garbage;;;", contentTypeV1},
	}
	for _, tt := range tests {
		if got := negotiate(tt.accept); got != tt.want {
			t.Errorf("negotiate(%q) = %q, want %q", tt.accept, got, tt.want)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", contentTypeV1, contentTypeGeneric, "application/octet-stream", "application/x-www-form-urlencoded"} {
		if err := checkContentType(ct); err != nil {
			t.Errorf("checkContentType(%q) = %v, want nil", ct, err)
		}
	}
	for _, ct := range []string{"text/plain", "application/xml", ";;"} {
		err := checkContentType(ct)
		var he *httpError
		if !errors.As(err, &he) || he.status != http.StatusUnsupportedMediaType {
			t.Errorf("checkContentType(%q) = %v, want a 415", ct, err)
		}
	}
}

func TestSplitPathAndMatch(t *testing.T) {
	tests := []struct {
		path    string
		pattern string
		args    []string
		ok      bool
	}{
		{"/", "/", nil, true},
		{"/subjects/", "/subjects", nil, true},
		{"/subjects/a%2Fb/versions", "/subjects/*/versions", []string{"a/b"}, true},
		{"/subjects/a%2Fb/versions//", "/subjects/*/versions", []string{"a/b"}, true},
		{"/subjects/x/versions/latest/schema", "/subjects/*/versions/*/schema", []string{"x", "latest"}, true},
		{"/subjects/x/versions", "/subjects/*", nil, false},
		{"/schemas/types", "/schemas/ids/*", nil, false},
	}
	for _, tt := range tests {
		segs, err := splitPath(tt.path)
		if err != nil {
			t.Fatalf("splitPath(%q): %v", tt.path, err)
		}
		args, ok := match(r("GET", tt.pattern, nil).path, segs)
		if ok != tt.ok || fmt.Sprint(args) != fmt.Sprint(tt.args) {
			t.Errorf("match(%q, %q) = %q, %v; want %q, %v", tt.pattern, tt.path, args, ok, tt.args, tt.ok)
		}
	}
}

func TestNormalizeContext(t *testing.T) {
	tests := map[string]string{"": "", ".": "", ":.:": "", ".staging": ".staging", "staging": ".staging", ":.staging:": ".staging"}
	for in, want := range tests {
		if got := normalizeContext(in); got != want {
			t.Errorf("normalizeContext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPage(t *testing.T) {
	xs := []int{1, 2, 3, 4, 5}
	tests := []struct {
		query   string
		maxList int
		want    string
	}{
		{"", 0, "[1 2 3 4 5]"},
		{"offset=2", 0, "[3 4 5]"},
		{"offset=1&limit=2", 0, "[2 3]"},
		{"limit=-1", 0, "[1 2 3 4 5]"},
		{"offset=9", 0, "[]"},
		{"offset=-3&limit=1", 0, "[1]"},
		{"", 3, "[1 2 3]"},
		{"limit=10", 3, "[1 2 3]"},
		{"offset=3&limit=1", 3, "[4]"},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := page(&call{query: q, maxList: tt.maxList}, xs)
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("page(%q, max %d) = %v, %v; want %s", tt.query, tt.maxList, got, err, tt.want)
		}
	}
	if _, err := page(&call{query: url.Values{"limit": {"many"}}}, xs); err == nil {
		t.Error("page(limit=many) did not fail")
	}
}
