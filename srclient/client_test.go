package srclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/srclient"
)

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		raw, user, password string
		base, wantU, wantP  string
		err                 string
	}{
		{raw: "localhost:8081/", base: "http://localhost:8081"},
		{raw: "https://key:secret@sr.example.com/ctx", user: "ignored", base: "https://sr.example.com/ctx", wantU: "key", wantP: "secret"},
		{raw: "http://sr:8081", user: "u", password: "p", base: "http://sr:8081", wantU: "u", wantP: "p"},
		{raw: "http:///subjects", err: "has no host"},
		{raw: "http://[::1", err: `registry address "http://[::1"`},
	} {
		c, err := srclient.New(tc.raw, tc.user, tc.password)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q): %v, want an error with %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || c.Base != tc.base || c.User != tc.wantU || c.Password != tc.wantP {
			t.Errorf("New(%q) = %+v, %v", tc.raw, c, err)
		}
	}
}

// registry serves canned answers by "METHOD path?query" and records the
// requests' basic auth and media types.
func registry(t *testing.T, answers map[string]func(w http.ResponseWriter)) (*srclient.Client, *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			key += "?" + r.URL.RawQuery
		}
		u, p, _ := r.BasicAuth()
		seen = append(seen, key+" auth="+u+":"+p+" accept="+r.Header.Get("Accept"))
		if a, ok := answers[key]; ok {
			a(w)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"error_code": 40401, "message": "Subject not found"})
	}))
	t.Cleanup(srv.Close)
	return &srclient.Client{Base: srv.URL, User: "k", Password: "s"}, &seen
}

func answer(status int, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// TestDo: 2xx answers decode; error envelopes become *Error with their
// code; answers without an envelope get the HTTP status as code.
func TestDo(t *testing.T) {
	c, seen := registry(t, map[string]func(http.ResponseWriter){
		"GET /subjects":                         answer(200, `["a/b"]`),
		"GET /subjects/a%2Fb/versions/1/schema": answer(200, `{"type":"string"}`),
		"GET /config":                           answer(500, "boom"),
		"GET /mode":                             answer(502, "<html>"+strings.Repeat("proxy error ", 1000)+"</html>"),
		"POST /subjects/x/versions":             answer(409, `{"error_code":409,"message":"incompatible; field a"}`),
	})
	ctx := context.Background()
	var subjects []string
	if err := c.Do(ctx, http.MethodGet, "/subjects", nil, nil, &subjects); err != nil || len(subjects) != 1 {
		t.Fatalf("subjects %q, %v", subjects, err)
	}
	var raw []byte
	if err := c.Do(ctx, http.MethodGet, "/subjects/"+srclient.SubjectPath("a/b")+"/versions/1/schema", nil, nil, &raw); err != nil || string(raw) != `{"type":"string"}` {
		t.Fatalf("raw %q, %v", raw, err)
	}
	err := c.Do(ctx, http.MethodGet, "/config", nil, nil, nil)
	var se *srclient.Error
	if !errors.As(err, &se) || se.Code != 500 || se.Status != 500 || !strings.Contains(se.Message, "boom") {
		t.Errorf("500: %v", err)
	}
	// A proxy's page is quoted, but only its start.
	err = c.Do(ctx, http.MethodGet, "/mode", nil, nil, nil)
	if !errors.As(err, &se) || se.Code != 502 || !strings.Contains(se.Message, "<html>proxy error") || len(se.Message) > 1024 || !strings.Contains(se.Message, "(12013 bytes)") {
		t.Errorf("502 with a long page: %d bytes: %v", len(err.Error()), err)
	}
	err = c.Do(ctx, http.MethodPost, "/subjects/x/versions", nil, srclient.Schema{Schema: "{}"}, nil)
	if srclient.Code(err) != 409 || err.Error() != "incompatible; field a (error code 409)" {
		t.Errorf("409: %v", err)
	}
	if srclient.Code(errors.New("other")) != 0 {
		t.Error("Code of a plain error is not 0")
	}
	if !strings.Contains((*seen)[0], "auth=k:s accept=application/vnd.schemaregistry.v1+json") {
		t.Errorf("request %q lacks auth or media type", (*seen)[0])
	}
	// Nothing listening: the error names the registry.
	dead := &srclient.Client{Base: "http://127.0.0.1:1"}
	if err := dead.Do(ctx, http.MethodGet, "/subjects", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "cannot reach the registry at http://127.0.0.1:1") {
		t.Errorf("dead registry: %v", err)
	}
}

// TestReaderConfig: the subject's own level, the effective one, the global
// fallback for registries without defaultToGlobal, and unknown policies
// read as STRICT.
func TestReaderConfig(t *testing.T) {
	c, _ := registry(t, map[string]func(http.ResponseWriter){
		"GET /config/own":                      answer(200, `{"compatibilityLevel":"FULL"}`),
		"GET /config/own?defaultToGlobal=true": answer(200, `{"compatibilityLevel":"FULL","compatibilityPolicy":"LOGICAL","compatibilityGroup":"major"}`),
		"GET /config/old?defaultToGlobal=true": answer(404, `{"error_code":40408,"message":"no config"}`),
		"GET /config":                          answer(200, `{"compatibilityLevel":"FORWARD_TRANSITIVE"}`),
		"GET /config/bad?defaultToGlobal=true": answer(200, `{"compatibilityLevel":"SIDEWAYS"}`),
	})
	r := srclient.NewReader(c)
	ctx := context.Background()
	cfg, err := r.Config(ctx, "own")
	if err != nil || cfg.Own != compat.Full || cfg.Level != compat.Full || cfg.Policy != compat.Strict || cfg.Group != "major" {
		t.Errorf("own: %+v, %v", cfg, err)
	}
	cfg, err = r.Config(ctx, "old")
	if err != nil || cfg.Own != "" || cfg.Level != compat.ForwardTransitive {
		t.Errorf("global fallback: %+v, %v", cfg, err)
	}
	if _, err := r.Config(ctx, "bad"); err == nil || !strings.Contains(err.Error(), "subject bad: the registry answered") {
		t.Errorf("bad level: %v", err)
	}
}

// TestReaderVersions: an unknown subject has no versions; references are
// fetched transitively, dependencies first, each version once.
func TestReaderVersions(t *testing.T) {
	c, seen := registry(t, map[string]func(http.ResponseWriter){
		"GET /subjects/top/versions":         answer(200, `[1,2]`),
		"GET /subjects/top/versions/latest":  answer(200, `{"subject":"top","version":2,"id":9,"schema":"{}","references":[{"name":"mid.avsc","subject":"mid","version":1}]}`),
		"GET /subjects/mid/versions/1":       answer(200, `{"subject":"mid","version":1,"id":8,"schema":"M","references":[{"name":"leaf.avsc","subject":"leaf","version":-1}]}`),
		"GET /subjects/leaf/versions/latest": answer(200, `{"subject":"leaf","version":3,"id":7,"schema":"L"}`),
	})
	r := srclient.NewReader(c)
	ctx := context.Background()
	if vs, err := r.Versions(ctx, "nobody"); err != nil || vs != nil {
		t.Errorf("unknown subject: %v, %v", vs, err)
	}
	if vs, err := r.Versions(ctx, "top"); err != nil || len(vs) != 2 {
		t.Errorf("top: %v, %v", vs, err)
	}
	top, err := r.Version(ctx, "top", "latest")
	if err != nil || top.TypeName() != "AVRO" {
		t.Fatalf("top: %+v, %v", top, err)
	}
	refs, err := r.References(ctx, top)
	if err != nil || len(refs) != 2 || refs[0].Name != "leaf.avsc" || refs[0].Text != "L" || refs[1].Name != "mid.avsc" {
		t.Fatalf("references %+v, %v", refs, err)
	}
	n := len(*seen)
	if again, err := r.Version(ctx, "top", "2"); err != nil || again != top || len(*seen) != n {
		t.Errorf("version 2 fetched again (%d requests, was %d): %v", len(*seen), n, err)
	}
}
