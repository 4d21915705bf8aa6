package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestReferences: a subject whose schema references another's type (an
// Avro named type in another subject) shows its references with links to
// the referenced versions; its diff, a candidate test, the produce form
// and the record browser all resolve the reference (the fixture's
// subjects have none).
func TestReferences(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	n.register(t, "address-value", "AVRO", `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"city","type":"string"}]}`)
	refs := []map[string]any{{"name": "com.acme.Address", "subject": "address-value", "version": 1}}
	for _, schema := range []string{
		`{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"name","type":"string"},{"name":"home","type":"com.acme.Address"}]}`,
		`{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"name","type":"string"},{"name":"home","type":"com.acme.Address"},{"name":"vip","type":"boolean","default":false}]}`,
	} {
		if err := n.sr.Do(ctx, http.MethodPost, "/subjects/customers-value/versions", nil, map[string]any{"schema": schema, "references": refs}, nil); err != nil {
			t.Fatalf("register customers-value: %v", err)
		}
	}
	n.createTopic(t, "customers", 1)

	page := n.do(t, http.MethodGet, "/console/subjects/customers-value", nil).Body.String()
	for _, want := range []string{
		"<h3>References</h3>",
		`<li><code>com.acme.Address</code>: <a href="/console/subjects/address-value?version=1">address-value version 1</a></li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the subject page lacks %q:\n%s", want, page)
		}
	}
	w := n.do(t, http.MethodGet, "/console/subjects/customers-value/diff?old=1&new=2", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "1 change, 0 breaking") {
		t.Errorf("diff of versions with a reference: %d\n%s", w.Code, w.Body)
	}
	w = n.do(t, http.MethodPost, "/console/subjects/customers-value/test", url.Values{"type": {"AVRO"},
		"schema": {`{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"name","type":"string"},{"name":"home","type":"com.acme.Address"},{"name":"vip","type":"boolean","default":false},{"name":"tier","type":"int","default":0}]}`}})
	if body := w.Body.String(); w.Code != http.StatusOK || !strings.Contains(body, "Compatible with customers-value") || !strings.Contains(body, "1 change, 0 breaking") {
		t.Errorf("a candidate naming the referenced type: %d\n%s", w.Code, body)
	}
	w = n.do(t, http.MethodPost, "/console/topics/customers/produce", url.Values{"encoding": {"json"}, "subject": {"customers-value"}, "value": {`{"name":"ada","home":{"city":"Paris"},"vip":true}`}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Produced to partition 0 at offset 0") {
		t.Fatalf("produce through a schema with a reference: %d\n%s", w.Code, w.Body)
	}
	page = n.do(t, http.MethodGet, "/console/topics/customers/records?from=start", nil).Body.String()
	for _, want := range []string{`<span class="hl-s">&#34;Paris&#34;</span>`, "customers-value v2 (id "} {
		if !strings.Contains(page, want) {
			t.Errorf("the record browser lacks %q:\n%s", want, page)
		}
	}
}
