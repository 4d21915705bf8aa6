package rest_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// fuzzTargets are the endpoints that parse request bodies.
var fuzzTargets = []struct{ method, path string }{
	{"POST", "/subjects/fuzz-value/versions"},
	{"POST", "/subjects/fuzz-value"},
	{"POST", "/compatibility/subjects/fuzz-value/versions/latest"},
	{"POST", "/compatibility/subjects/fuzz-value/versions?verbose=true"},
	{"PUT", "/config/fuzz-value"},
	{"PUT", "/config"},
	{"PUT", "/mode/fuzz-value"},
	{"POST", "/"},
}

// FuzzRequestBodies posts arbitrary bodies to every endpoint that reads one
// and checks the invariants: never a 5xx, never a panic, and every answer is
// JSON; every error is the envelope whose error_code agrees with the status.
func FuzzRequestBodies(f *testing.F) {
	seeds := []string{
		schemaBody(orderV1),
		schemaBody(orderV2),
		schemaBody(jsonDoc, `"schemaType":"JSON"`),
		schemaBody(customer, `"references":[{"name":"com.acme.Address","subject":"address-value","version":-1}]`),
		schemaBody(address, `"metadata":{"properties":{"a":"b"}}`, `"ruleSet":{"domainRules":[]}`),
		schemaBody(orderV1, `"id":5`, `"version":2`),
		`{"schema":{"type":"string"}}`,
		`{"schema":"\"string\"","schemaType":null,"references":null}`,
		`{"schema":""}`,
		`{}`, `null`, `[]`, `"x"`, ``, `{"schema":`, "\xff\xfe",
		`{"compatibility":"FULL","normalize":true,"validateFields":false,"compatibilityGroup":"g","alias":"a"}`,
		`{"compatibility":"nope"}`, `{"compatibilityLevel":"NONE"}`,
		`{"defaultMetadata":{"properties":{}},"overrideRuleSet":{}}`,
		`{"mode":"READWRITE"}`, `{"mode":"IMPORT"}`, `{"mode":7}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	h := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, target uint8, body []byte) {
		tg := fuzzTargets[int(target)%len(fuzzTargets)]
		req := httptest.NewRequest(tg.method, tg.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", tg.method, tg.path, body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s with %q: answer is not JSON: %q", tg.method, tg.path, body, rec.Body)
		}
		if rec.Code >= 400 {
			var env struct {
				ErrorCode int    `json:"error_code"`
				Message   string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Message == "" {
				t.Fatalf("%s %s with %q: error answer is not the envelope: %s", tg.method, tg.path, body, rec.Body)
			}
			code := env.ErrorCode
			for code >= 1000 {
				code /= 10
			}
			if code != rec.Code {
				t.Fatalf("%s %s with %q: status %d but error_code %d", tg.method, tg.path, body, rec.Code, env.ErrorCode)
			}
		}
	})
}

func newFuzzHandler(f *testing.F) http.Handler {
	s := newServer(f, registry.Config{}, rest.Config{})
	// Give register/compat something to compare with and a referenced type.
	for _, st := range []step{
		{method: "POST", path: "/subjects/fuzz-value/versions", body: schemaBody(orderV1)},
		{method: "POST", path: "/subjects/address-value/versions", body: schemaBody(address)},
	} {
		if resp := s.do(f, st.method, st.path, st.body); resp.Status != 200 {
			f.Fatalf("setup %s: %d %s", st.path, resp.Status, resp.Body)
		}
	}
	return rest.NewHandler(s.Reg, rest.Config{MaxBodyBytes: 64 << 10})
}
