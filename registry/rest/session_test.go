package rest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// Avro schemas of one evolving subject: v2 adds a field with a default
// (compatible every way), v3 adds one without (not BACKWARD compatible).
const (
	orderV1       = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"}]}`
	orderV1Spaced = `{ "type" : "record", "name" : "Order", "namespace" : "com.acme",
	  "fields" : [ { "name" : "id", "type" : "long" } ] }`
	orderV2  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""}]}`
	orderV3  = `{"type":"record","name":"Order","namespace":"com.acme","fields":[{"name":"id","type":"long"},{"name":"note","type":"string","default":""},{"name":"qty","type":"int"}]}`
	address  = `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"}]}`
	customer = `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"com.acme.Address"}]}`
	jsonDoc  = `{"type":"object","properties":{"id":{"type":"integer"}}}`
)

// step is one request of a scripted session and the status it must get.
type step struct {
	name         string
	method, path string
	body         string
	status       int
	header       []string
}

// run sends the steps in order, checking each status, and returns the
// transcript: request, status, content type and body of every answer.
func run(t *testing.T, s *testServer, steps []step) string {
	t.Helper()
	var b strings.Builder
	for _, st := range steps {
		resp := s.do(t, st.method, st.path, st.body, st.header...)
		if resp.Status != st.status {
			t.Errorf("%s: %s %s: status %d, want %d; body %s", st.name, st.method, st.path, resp.Status, st.status, resp.Body)
		}
		fmt.Fprintf(&b, "### %s\n%s %s\n", st.name, st.method, st.path)
		if st.body != "" {
			fmt.Fprintf(&b, "%s\n", st.body)
		}
		fmt.Fprintf(&b, "--> %d %s\n%s\n\n", resp.Status, resp.ContentType, resp.Body)
	}
	return b.String()
}

// TestSession drives every endpoint through the life of a few subjects and
// compares the whole transcript with testdata/session.golden.
func TestSession(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	steps := []step{
		{name: "root", method: "GET", path: "/", status: 200},
		{name: "root post", method: "POST", path: "/", body: `{"anything":[1,2]}`, status: 200},
		{name: "types", method: "GET", path: "/schemas/types", status: 200},
		{name: "no subjects yet", method: "GET", path: "/subjects", status: 200},
		{name: "global config", method: "GET", path: "/config", status: 200},
		{name: "global mode", method: "GET", path: "/mode", status: 200},
		{name: "contexts", method: "GET", path: "/contexts", status: 200},
		{name: "metadata id", method: "GET", path: "/v1/metadata/id", status: 200},
		{name: "metadata version", method: "GET", path: "/v1/metadata/version", status: 200},

		{name: "register v1", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200},
		{name: "re-register v1 is idempotent", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV1), status: 200},
		{name: "whitespace variant shares the id", method: "POST", path: "/subjects/orders-value/versions/", body: schemaBody(orderV1Spaced), status: 200},
		{name: "same schema in a second subject shares the id", method: "POST", path: "/subjects/orders-key/versions", body: schemaBody(orderV1, `"schemaType":"AVRO"`), status: 200},
		{name: "subject with a slash", method: "POST", path: "/subjects/team%2Forders/versions", body: schemaBody(orderV1), status: 200},
		{name: "json schema", method: "POST", path: "/subjects/doc-value/versions", body: schemaBody(jsonDoc, `"schemaType":"JSON"`), status: 200},
		{name: "subjects", method: "GET", path: "/subjects", status: 200},
		{name: "subjects by prefix", method: "GET", path: "/subjects?subjectPrefix=orders", status: 200},
		{name: "subjects paginated", method: "GET", path: "/subjects?offset=1&limit=2", status: 200},
		{name: "versions", method: "GET", path: "/subjects/orders-value/versions", status: 200},
		{name: "version 1", method: "GET", path: "/subjects/orders-value/versions/1", status: 200},
		{name: "latest", method: "GET", path: "/subjects/orders-value/versions/latest", status: 200},
		{name: "latest as -1", method: "GET", path: "/subjects/orders-value/versions/-1", status: 200},
		{name: "raw text", method: "GET", path: "/subjects/orders-value/versions/1/schema", status: 200},
		{name: "slash subject version", method: "GET", path: "/subjects/team%2Forders/versions/1", status: 200},
		{name: "json schema version shows its type", method: "GET", path: "/subjects/doc-value/versions/latest", status: 200},
		{name: "schema by id", method: "GET", path: "/schemas/ids/1", status: 200},
		{name: "schema by id with maxId", method: "GET", path: "/schemas/ids/1?fetchMaxId=true&format=resolved&unknownParam=1", status: 200},
		{name: "schema by guid", method: "GET", path: "/schemas/guids/c62016b2-c254-0594-14bc-52f5d3bc6ee7", status: 200},
		{name: "schema by guid with maxId", method: "GET", path: "/schemas/guids/C62016B2-C254-0594-14BC-52F5D3BC6EE7?fetchMaxId=true", status: 200},
		{name: "ids by guid", method: "GET", path: "/schemas/guids/c62016b2-c254-0594-14bc-52f5d3bc6ee7/ids", status: 200},
		{name: "schema text by id", method: "GET", path: "/schemas/ids/1/schema", status: 200},
		{name: "subjects by id", method: "GET", path: "/schemas/ids/1/subjects", status: 200},
		{name: "subjects by id filtered", method: "GET", path: "/schemas/ids/1/subjects?subject=orders-key", status: 200},
		{name: "versions by id", method: "GET", path: "/schemas/ids/1/versions", status: 200},
		{name: "lookup", method: "POST", path: "/subjects/orders-value", body: schemaBody(orderV1Spaced), status: 200},

		{name: "compatible with latest", method: "POST", path: "/compatibility/subjects/orders-value/versions/latest", body: schemaBody(orderV2), status: 200},
		{name: "incompatible with latest", method: "POST", path: "/compatibility/subjects/orders-value/versions/latest", body: schemaBody(orderV3), status: 200},
		{name: "incompatible verbose", method: "POST", path: "/compatibility/subjects/orders-value/versions?verbose=true", body: schemaBody(orderV3), status: 200},
		{name: "invalid schema verbose answers 200", method: "POST", path: "/compatibility/subjects/orders-value/versions/1?verbose=true", body: schemaBody(`{"type":"record","name":"Order"}`), status: 200},
		{name: "latest of unknown subject is compatible", method: "POST", path: "/compatibility/subjects/nobody/versions/latest", body: schemaBody(orderV3), status: 200},
		{name: "register incompatible", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV3), status: 409},
		{name: "register v2", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV2), status: 200},
		{name: "all schemas", method: "GET", path: "/schemas?subjectPrefix=orders-v", status: 200},
		{name: "latest schemas only", method: "GET", path: "/schemas?latestOnly=true&subjectPrefix=orders", status: 200},

		{name: "set subject level", method: "PUT", path: "/config/orders-value", body: `{"compatibility":"full","normalize":false,"alias":"x"}`, status: 200},
		{name: "get subject level", method: "GET", path: "/config/orders-value", status: 200},
		{name: "subject without level", method: "GET", path: "/config/orders-key", status: 404},
		{name: "subject level default to global", method: "GET", path: "/config/orders-key?defaultToGlobal=true", status: 200},
		{name: "delete subject level", method: "DELETE", path: "/config/orders-value", status: 200},
		{name: "set global level", method: "PUT", path: "/config", body: `{"compatibility":"BACKWARD_TRANSITIVE"}`, status: 200},
		{name: "reset global level", method: "DELETE", path: "/config", status: 200},

		{name: "readonly", method: "PUT", path: "/mode", body: `{"mode":"READONLY"}`, status: 200},
		{name: "readonly refuses new schemas", method: "POST", path: "/subjects/other/versions", body: schemaBody(address), status: 422},
		{name: "readonly still answers known schemas", method: "POST", path: "/subjects/orders-value/versions", body: schemaBody(orderV2), status: 200},
		{name: "readwrite", method: "PUT", path: "/mode", body: `{"mode":"readwrite"}`, status: 200},
		{name: "subject mode", method: "PUT", path: "/mode/orders-key", body: `{"mode":"READONLY"}`, status: 200},
		{name: "get subject mode", method: "GET", path: "/mode/orders-key", status: 200},
		{name: "delete subject mode", method: "DELETE", path: "/mode/orders-key", status: 200},
		{name: "subject without mode", method: "GET", path: "/mode/orders-key", status: 404},
		{name: "subject mode default to global", method: "GET", path: "/mode/orders-key?defaultToGlobal=true", status: 200},

		{name: "register referenced type", method: "POST", path: "/subjects/address-value/versions", body: schemaBody(address), status: 200},
		{name: "register with reference", method: "POST", path: "/subjects/customer-value/versions", body: schemaBody(customer, `"references":[{"name":"com.acme.Address","subject":"address-value","version":1}]`), status: 200},
		{name: "version with references", method: "GET", path: "/subjects/customer-value/versions/1", status: 200},
		{name: "referenced by", method: "GET", path: "/subjects/address-value/versions/1/referencedby", status: 200},
		{name: "referenced version cannot be deleted", method: "DELETE", path: "/subjects/address-value/versions/1", status: 422},

		{name: "soft delete version", method: "DELETE", path: "/subjects/orders-value/versions/2", status: 200},
		{name: "second soft delete", method: "DELETE", path: "/subjects/orders-value/versions/2", status: 404},
		{name: "versions after soft delete", method: "GET", path: "/subjects/orders-value/versions", status: 200},
		{name: "versions with deleted", method: "GET", path: "/subjects/orders-value/versions?deleted=true", status: 200},
		{name: "soft-deleted version needs deleted=true", method: "GET", path: "/subjects/orders-value/versions/2", status: 404},
		{name: "soft-deleted version with deleted=true", method: "GET", path: "/subjects/orders-value/versions/2?deleted=true", status: 200},
		{name: "id of soft-deleted version still resolves", method: "GET", path: "/schemas/ids/3", status: 200},
		{name: "hard delete version", method: "DELETE", path: "/subjects/orders-value/versions/2?permanent=true", status: 200},
		{name: "hard delete live version", method: "DELETE", path: "/subjects/orders-value/versions/1?permanent=true", status: 404},
		{name: "soft delete subject", method: "DELETE", path: "/subjects/orders-key", status: 200},
		{name: "second soft delete of subject", method: "DELETE", path: "/subjects/orders-key", status: 404},
		{name: "lookup in a soft-deleted subject", method: "POST", path: "/subjects/orders-key", body: schemaBody(orderV1), status: 404},
		{name: "lookup with deleted=true", method: "POST", path: "/subjects/orders-key?deleted=true", body: schemaBody(orderV1), status: 200},
		{name: "usages with deleted", method: "GET", path: "/schemas/ids/1/versions?deleted=true", status: 200},
		{name: "subjects with deleted", method: "GET", path: "/subjects?deleted=true", status: 200},
		{name: "subjects deleted only", method: "GET", path: "/subjects?deletedOnly=true", status: 200},
		{name: "hard delete subject", method: "DELETE", path: "/subjects/orders-key?permanent=true", status: 200},
		{name: "hard delete live subject", method: "DELETE", path: "/subjects/orders-value?permanent=true", status: 404},

		{name: "register with metadata and rule set", method: "POST", path: "/subjects/meta-value/versions", body: schemaBody(address, `"metadata":{"properties":{"owner":"team-a"}}`, `"ruleSet":{"domainRules":[{"name":"r","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"true"}]}`), status: 200},
		{name: "latest with metadata", method: "GET", path: "/subjects/meta-value/metadata?key=owner&value=team-a", status: 200},
		{name: "import mode for a new subject", method: "PUT", path: "/mode/imported-value", body: `{"mode":"IMPORT"}`, status: 200},
		{name: "import with an explicit id", method: "POST", path: "/subjects/imported-value/versions", body: schemaBody(orderV3, `"id":100`, `"version":1`), status: 200},
		{name: "imported id resolves", method: "GET", path: "/schemas/ids/100/versions", status: 200},
		{name: "delete config of a subject without one", method: "DELETE", path: "/config/orders-key", status: 404},
		{name: "delete mode of a subject without one", method: "DELETE", path: "/mode/orders-key", status: 404},
		{name: "delete global mode", method: "DELETE", path: "/mode", status: 200},
		{name: "contexts after all that", method: "GET", path: "/contexts", status: 200},

		{name: "default context prefix", method: "GET", path: "/contexts/:.:/subjects/orders-value/versions", status: 200},
		{name: "default context prefix by dot", method: "GET", path: "/contexts/./schemas/ids/1", status: 200},
		{name: "qualified default-context subject", method: "GET", path: "/subjects/:.:orders-value/versions/1", status: 200},
		{name: "accept application/json", method: "GET", path: "/subjects", status: 200, header: []string{"Accept", "application/json"}},
		{name: "no content type", method: "POST", path: "/subjects/orders-value", body: schemaBody(orderV1), status: 200, header: []string{"Content-Type", ""}},
		{name: "octet-stream content type", method: "POST", path: "/subjects/orders-value", body: schemaBody(orderV1), status: 200, header: []string{"Content-Type", "application/octet-stream"}},
	}
	golden(t, "session.golden", run(t, s, steps))
}
