package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestJSONSchemaRecords: a topic typed by a JSON Schema subject, end to
// end in the console: the produce form validates and encodes JSON through
// the schema (a document the schema refuses is refused, naming why), and
// the record browser shows the value as JSON with its writer schema named
// (the fixture's topics are Avro, Protobuf and plain).
func TestJSONSchemaRecords(t *testing.T) {
	n := startNode(t)
	n.createTopic(t, "profiles", 1)
	id := n.register(t, "profiles-value", "JSON", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"]}`)

	form := n.do(t, http.MethodGet, "/console/topics/profiles/produce", nil).Body.String()
	if !strings.Contains(form, `<option value="json" selected>JSON through a subject</option>`) {
		t.Errorf("the produce form of a JSON Schema topic does not default to JSON:\n%s", form)
	}
	w := n.do(t, http.MethodPost, "/console/topics/profiles/produce", url.Values{"encoding": {"json"}, "subject": {"profiles-value"}, "key": {"ada"}, "value": {`{"name":"ada","age":36}`}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Produced to partition 0 at offset 0 (as JSON through profiles-value v1") {
		t.Fatalf("produce: %d\n%s", w.Code, w.Body)
	}
	w = n.do(t, http.MethodPost, "/console/topics/profiles/produce", url.Values{"encoding": {"json"}, "subject": {"profiles-value"}, "value": {`{"age":"old"}`}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "value does not match profiles-value v1") {
		t.Errorf("a document the schema refuses: %d\n%s", w.Code, w.Body)
	}
	page := n.do(t, http.MethodGet, "/console/topics/profiles/records?from=start", nil).Body.String()
	for _, want := range []string{
		`<span class="hl-k">&#34;name&#34;</span>:<span class="hl-s">&#34;ada&#34;</span>`,
		`<span class="hl-k">&#34;age&#34;</span>:<span class="hl-n">36</span>`,
		"profiles-value v1 (id " + itoa(id) + ", JSON)",
		"1 record.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the record browser lacks %q:\n%s", want, page)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
