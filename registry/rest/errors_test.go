package rest_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// errorCase is a request that must fail with status and error_code, and a
// message containing msg.
type errorCase struct {
	name         string
	method, path string
	body         string
	header       []string
	status, code int
	msg          string
}

// TestErrors checks every error the REST API answers: status, error_code, a
// stable part of the message, and all messages against
// testdata/errors.golden. The setup registers what the cases need.
func TestErrors(t *testing.T) {
	s := newServer(t, registry.Config{MaxSchemaBytes: 4096}, rest.Config{MaxBodyBytes: 64 << 10})
	setup := []step{
		{name: "v1", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200},
		{name: "v2", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV2), status: 200},
		{name: "soft delete v2", method: "DELETE", path: "/subjects/orders-value/versions/2", status: 200},
		{name: "gone", method: "POST", path: "/subjects/gone-value/versions", body: schemaBody(orderV1), status: 200},
		{name: "soft delete gone", method: "DELETE", path: "/subjects/gone-value", status: 200},
		{name: "address", method: "POST", path: "/subjects/address-value/versions", body: schemaBody(address), status: 200},
		{name: "customer", method: "POST", path: "/subjects/customer-value/versions", body: schemaBody(customer, `"references":[{"name":"com.acme.Address","subject":"address-value","version":1}]`), status: 200},
		{name: "readonly subject", method: "PUT", path: "/mode/frozen-value", body: `{"mode":"READONLY"}`, status: 200},
	}
	run(t, s, setup)

	big := strings.Repeat("x", 5000)
	cases := []errorCase{
		// Framework errors: bare status as error_code.
		{name: "unknown path", method: "GET", path: "/nope", status: 404, code: 404, msg: "HTTP 404 Not Found"},
		{name: "out of scope tree", method: "GET", path: "/exporters", status: 404, code: 404, msg: "HTTP 404 Not Found"},
		{name: "malformed guid", method: "GET", path: "/schemas/guids/abc", status: 400, code: 400, msg: "not a UUID"},
		{name: "malformed guid ids", method: "GET", path: "/schemas/guids/abc/ids", status: 400, code: 400, msg: "not a UUID"},
		{name: "non-numeric id", method: "GET", path: "/schemas/ids/abc", status: 404, code: 404, msg: "HTTP 404 Not Found"},
		{name: "id beyond int32", method: "GET", path: "/schemas/ids/99999999999", status: 404, code: 404, msg: "HTTP 404 Not Found"},
		{name: "wrong method", method: "DELETE", path: "/schemas/types", status: 405, code: 405, msg: "Method Not Allowed"},
		{name: "malformed json", method: "POST", path: "/subjects/orders-value/versions", body: `{"schema":`, status: 400, code: 400, msg: "not valid JSON"},
		{name: "schema as an object", method: "POST", path: "/subjects/orders-value/versions", body: `{"schema":{"type":"string"}}`, status: 400, code: 400, msg: `field "schema"`},
		{name: "body is an array", method: "POST", path: "/subjects/orders-value", body: `[1]`, status: 400, code: 400, msg: "want an object"},
		{name: "reference version as a string", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1, `"references":[{"name":"a","subject":"b","version":"1"}]`), status: 400, code: 400, msg: "version"},
		{name: "id beyond int32 in body", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1, `"id":3000000000`), status: 400, code: 400, msg: `field "id"`},
		{name: "metadata not an object", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1, `"metadata":[1]`), status: 400, code: 400, msg: `field "metadata"`},
		{name: "empty body", method: "PUT", path: "/config", body: " ", status: 400, code: 400, msg: "empty"},
		{name: "trailing garbage", method: "PUT", path: "/mode", body: `{"mode":"READWRITE"} x`, status: 400, code: 400, msg: "not valid JSON"},
		{name: "config value of the wrong type", method: "PUT", path: "/config", body: `{"normalize":"yes"}`, status: 400, code: 400, msg: `field "normalize"`},
		{name: "verbatim config key of the wrong type", method: "PUT", path: "/config", body: `{"defaultMetadata":"x"}`, status: 400, code: 400, msg: `field "defaultMetadata"`},
		{name: "bad offset", method: "GET", path: "/subjects?offset=x", status: 400, code: 400, msg: "offset"},
		{name: "metadata keys and values do not pair", method: "GET", path: "/subjects/orders-value/metadata?key=a", status: 400, code: 400, msg: "pair up"},
		{name: "body over the limit", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(strings.Repeat(" ", 70<<10)), status: 413, code: 413, msg: "larger than the limit"},
		{name: "unsupported content type", method: "POST", path: "/subjects/orders-value", body: schemaBody(orderV1), header: []string{"Content-Type", "text/plain"}, status: 415, code: 415, msg: "Unsupported Media Type"},

		// Registry errors.
		{name: "unknown subject", method: "GET", path: "/subjects/nobody/versions", status: 404, code: 40401, msg: "nobody"},
		{name: "lookup in unknown subject", method: "POST", path: "/subjects/nobody", body: schemaBody(orderV1), status: 404, code: 40401, msg: "nobody"},
		{name: "latest of a soft-deleted subject", method: "GET", path: "/subjects/gone-value/versions/latest", status: 404, code: 40401},
		{name: "unknown version", method: "GET", path: "/subjects/orders-value/versions/99", status: 404, code: 40402},
		{name: "compatibility with an unknown version", method: "POST", path: "/compatibility/subjects/nobody/versions/3", body: schemaBody(orderV1), status: 404, code: 40402},
		{name: "unknown id", method: "GET", path: "/schemas/ids/999", status: 404, code: 40403, msg: "999"},
		{name: "zero id", method: "GET", path: "/schemas/ids/0", status: 404, code: 40403},
		{name: "unknown guid", method: "GET", path: "/schemas/guids/123e4567-e89b-12d3-a456-426614174000", status: 404, code: 40403, msg: "123e4567"},
		{name: "unknown guid ids", method: "GET", path: "/schemas/guids/123e4567-e89b-12d3-a456-426614174000/ids", status: 404, code: 40403, msg: "123e4567"},
		{name: "lookup without a match", method: "POST", path: "/subjects/orders-value", body: schemaBody(address), status: 404, code: 40403},
		{name: "no version with the metadata", method: "GET", path: "/subjects/orders-value/metadata?key=owner&value=me", status: 404, code: 40403, msg: "owner"},
		{name: "metadata key asked with two values", method: "GET", path: "/subjects/orders-value/metadata?key=a&value=1&key=a&value=2", status: 404, code: 40403, msg: `"a"`},
		{name: "second soft delete of a subject", method: "DELETE", path: "/subjects/gone-value", status: 404, code: 40404},
		{name: "hard delete of a live subject", method: "DELETE", path: "/subjects/orders-value?permanent=true", status: 404, code: 40405},
		{name: "second soft delete of a version", method: "DELETE", path: "/subjects/orders-value/versions/2", status: 404, code: 40406},
		{name: "hard delete of a live version", method: "DELETE", path: "/subjects/orders-value/versions/1?permanent=true", status: 404, code: 40407},
		{name: "subject without config", method: "GET", path: "/config/orders-value", status: 404, code: 40408},
		{name: "subject without mode", method: "GET", path: "/mode/orders-value", status: 404, code: 40409},
		{name: "incompatible", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV3), status: 409, code: 409, msg: "incompatible"},
		{name: "invalid avro", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(`{"type":"record","name":"Order"}`), status: 422, code: 42201},
		{name: "not json at all", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(`not a schema`), status: 422, code: 42201},
		{name: "lower-case schema type", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1, `"schemaType":"avro"`), status: 422, code: 42201, msg: `"avro"`},
		{name: "invalid schema in compatibility check", method: "POST", path: "/compatibility/subjects/orders-value/versions/latest", body: schemaBody(`{"type":"nope"}`), status: 422, code: 42201},
		{name: "missing reference", method: "POST", path: "/subjects/c2-value/versions", body: schemaBody(customer, `"references":[{"name":"com.acme.Address","subject":"nowhere","version":1}]`), status: 422, code: 42201, msg: "nowhere"},
		{name: "empty schema and no previous version", method: "POST", path: "/subjects/fresh-value/versions", body: `{}`, status: 422, code: 42201},
		{name: "version zero", method: "GET", path: "/subjects/orders-value/versions/0", status: 422, code: 42202, msg: `"0"`},
		{name: "version word", method: "GET", path: "/subjects/orders-value/versions/abc", status: 422, code: 42202, msg: `"abc"`},
		{name: "version -2", method: "DELETE", path: "/subjects/orders-value/versions/-2", status: 422, code: 42202, msg: `"-2"`},
		{name: "version in compatibility path", method: "POST", path: "/compatibility/subjects/orders-value/versions/0", body: schemaBody(orderV1), status: 422, code: 42202},
		{name: "invalid level", method: "PUT", path: "/config/orders-value", body: `{"compatibility":"SIDEWAYS"}`, status: 422, code: 42203, msg: "SIDEWAYS"},
		{name: "invalid mode", method: "PUT", path: "/mode", body: `{"mode":"WRITEONLY"}`, status: 422, code: 42204, msg: "WRITEONLY"},
		{name: "missing mode", method: "PUT", path: "/mode", body: `{}`, status: 422, code: 42204},
		{name: "readonly subject", method: "POST", path: "/subjects/frozen-value/versions", body: schemaBody(orderV1), status: 422, code: 42205},
		{name: "id outside import mode", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV3, `"id":77`), status: 422, code: 42205},
		{name: "referenced version", method: "DELETE", path: "/subjects/address-value/versions/1", status: 422, code: 42206},
		{name: "reserved subject name", method: "POST", path: "/subjects/__GLOBAL/versions", body: schemaBody(orderV1), status: 422, code: 42208},
		{name: "another context by path prefix", method: "POST", path: "/contexts/.staging/subjects/foo/versions", body: schemaBody(orderV1), status: 422, code: 42208, msg: ".staging"},
		{name: "another context by qualified subject", method: "GET", path: "/subjects/:.staging:foo/versions", status: 422, code: 42208, msg: ".staging"},
		{name: "id in another context", method: "GET", path: "/contexts/.staging/schemas/ids/1", status: 404, code: 40403, msg: ".staging"},
		{name: "id with a subject of another context", method: "GET", path: "/schemas/ids/1?subject=:.staging:foo", status: 404, code: 40403, msg: ".staging"},
		{name: "invalid rule set", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV2, `"ruleSet":{"domainRules":[{"name":"r","kind":"SOMETIMES"}]}`), status: 422, code: 42210},
		{name: "schema over the core's limit", method: "POST", path: "/subjects/big-value/versions", body: schemaBody(`{"type":"string","doc":"` + big + `"}`), status: 422, code: 42209},
	}
	var transcript strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.do(t, tc.method, tc.path, tc.body, tc.header...)
			var env struct {
				ErrorCode *int    `json:"error_code"`
				Message   *string `json:"message"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &env); err != nil || env.ErrorCode == nil || env.Message == nil {
				t.Fatalf("status %d, body %q is not an error envelope (%v)", resp.Status, resp.Body, err)
			}
			if resp.Status != tc.status || *env.ErrorCode != tc.code {
				t.Errorf("got %d/%d, want %d/%d; message %q", resp.Status, *env.ErrorCode, tc.status, tc.code, *env.Message)
			}
			if !strings.Contains(*env.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", *env.Message, tc.msg)
			}
			if resp.ContentType != "application/vnd.schemaregistry.v1+json" {
				t.Errorf("content type %q", resp.ContentType)
			}
			fmt.Fprintf(&transcript, "%s: %d %d %s\n", tc.name, resp.Status, *env.ErrorCode, *env.Message)
		})
	}
	if !t.Failed() {
		golden(t, "errors.golden", transcript.String())
	}
}
