package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// TestRuleError: a record breaking a data-contract rule comes back as a
// *client.RuleError naming the rule, the record and the reason, which
// also unwraps to the *ProduceError.
func TestRuleError(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "orders", 1, nil)
	body, _ := json.Marshal(map[string]any{
		"schema":  orderV1,
		"ruleSet": map[string]any{"domainRules": []any{map[string]any{"name": "positive_amount", "kind": "CONDITION", "mode": "WRITE", "type": "CEL", "expr": "message.amount > 0"}}},
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/subjects/orders-value/versions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := srv.HTTPClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("register: %v %v", err, resp)
	}
	var reg struct{ ID int32 }
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The records are framed by hand with the id that carries the rules.
	frame := func(o avroOrderV1) []byte {
		b := binary.BigEndian.AppendUint32([]byte{0}, uint32(reg.ID))
		// id (string "a"/"b") then amount (zig-zag long).
		b = append(b, byte(2*len(o.ID)))
		b = append(b, o.ID...)
		return binary.AppendVarint(b, o.Amount)
	}
	p := mustProducer(t, ctx, srv.Conn, "orders", primitive.Null(), primitive.RawBytes())
	if _, err := p.Produce(ctx, struct{}{}, frame(avroOrderV1{ID: "a", Amount: 5})); err != nil {
		t.Fatalf("good record: %v", err)
	}
	_, err = p.Produce(ctx, struct{}{}, frame(avroOrderV1{ID: "b", Amount: -5}))
	var re *client.RuleError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *client.RuleError", err)
	}
	if re.Rule != "positive_amount" || re.RuleType != "CEL" || re.Index != 0 || re.Reason != "message.amount > 0 is false" || re.Subject != "orders-value" || re.Side != "value" {
		t.Fatalf("RuleError %+v", re)
	}
	var pe *client.ProduceError
	if !errors.As(err, &pe) || len(pe.Records) != 1 {
		t.Fatalf("does not unwrap to the ProduceError: %v", err)
	}
	if got := client.RuleErrors(err); len(got) != 1 || got[0].Rule != "positive_amount" {
		t.Fatalf("RuleErrors = %v", got)
	}
	// A refusal that is no rule's is no RuleError.
	raw := mustProducer(t, ctx, srv.Conn, "orders", primitive.Null(), primitive.RawBytes())
	_, err = raw.Produce(context.Background(), struct{}{}, []byte("not an envelope"))
	if errors.As(err, &re) || client.RuleErrors(err) != nil {
		t.Fatalf("schema refusal taken for a rule: %v", err)
	}
}
