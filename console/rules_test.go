package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestSubjectShowsRules: a subject whose version carries a ruleSet shows
// its rules on the subject page (issue #18), and one without shows no
// rule set section.
func TestSubjectShowsRules(t *testing.T) {
	n := startNode(t)
	body := map[string]any{
		"schema": `{"type":"record","name":"Tip","fields":[{"name":"total","type":"long"}]}`,
		"ruleSet": map[string]any{"domainRules": []any{map[string]any{
			"name": "positive_total", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.total > 0",
			"onFailure": "DLQ", "params": map[string]string{"dlq.topic": "tips-dlq"}}}},
	}
	if err := n.sr.Do(context.Background(), http.MethodPost, "/subjects/tips-value/versions", nil, body, nil); err != nil {
		t.Fatalf("register: %v", err)
	}
	w := n.do(t, http.MethodGet, "/console/subjects/tips-value", nil)
	page := w.Body.String()
	if w.Code != 200 || !strings.Contains(page, "Rule set") {
		t.Fatalf("GET the subject: %d, no rule set section:\n%s", w.Code, page)
	}
	// The expression as written: "message.total > 0" (HTML-escaped), not
	// re-encoded as "message.total \u003e 0".
	for _, want := range []string{"positive_total", "CONDITION", "tips-dlq", "message.total &gt; 0"} {
		if !strings.Contains(page, want) {
			t.Errorf("the subject page does not show %q", want)
		}
	}
	if w := n.do(t, http.MethodGet, "/console/subjects/orders-value", nil); strings.Contains(w.Body.String(), "Rule set") {
		t.Errorf("a subject without rules shows a rule set section")
	}
}
