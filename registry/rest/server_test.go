package rest_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/server"
)

// TestBehindServerMux runs the REST API as `sluice serve` mounts it, behind
// the node's http.ServeMux next to the Connect services, and checks that the
// paths the outer mux could mangle still reach the REST handler intact.
func TestBehindServerMux(t *testing.T) {
	_, url, stop, err := server.Start(context.Background(), server.Config{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	// Redirects would hide a mangled path; report them as they are.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/subjects/team%2Forders/versions", schemaBody(orderV1), 200, `"id":1`},
		{"GET", "/subjects/team%2Forders/versions/1", "", 200, `"subject":"team/orders"`},
		{"GET", "/subjects/", "", 200, `["team/orders"]`},
		{"GET", "/schemas/ids/1/", "", 200, `"schema"`},
		{"GET", "/contexts/:.:/subjects", "", 200, `["team/orders"]`},
		{"GET", "/nope", "", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{"GET", "/healthz", "", 200, "ok"},
	}
	for _, tt := range tests {
		var rd io.Reader
		if tt.body != "" {
			rd = strings.NewReader(tt.body)
		}
		req, err := http.NewRequest(tt.method, url+tt.path, rd)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s %s = %d %s; want %d containing %s", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.want)
		}
	}
}
