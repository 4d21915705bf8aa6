package client_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/jsonschema"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

const customerV1 = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Customer","type":"object",
 "properties":{"id":{"type":"string"},"age":{"type":"integer"}},
 "required":["id"],"additionalProperties":false}`

// customerV2 adds an optional property to a closed model: BACKWARD
// compatible.
const customerV2 = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Customer","type":"object",
 "properties":{"id":{"type":"string"},"age":{"type":"integer"},"email":{"type":"string"}},
 "required":["id"],"additionalProperties":false}`

// customerV3 changes a type and makes a new property required.
const customerV3 = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Customer","type":"object",
 "properties":{"id":{"type":"integer"},"age":{"type":"integer"},"email":{"type":"string"},"vip":{"type":"boolean"}},
 "required":["id","vip"],"additionalProperties":false}`

type customerV1Go struct {
	ID  string `json:"id"`
	Age int    `json:"age,omitempty"`
}

type customerV2Go struct {
	ID    string `json:"id"`
	Age   int    `json:"age,omitempty"`
	Email string `json:"email,omitempty"`
}

type customerV3Go struct {
	ID  int  `json:"id"`
	VIP bool `json:"vip"`
}

func TestJSONSchemaRoundTripAndEvolution(t *testing.T) {
	ctx := testCtx(t)
	srv := sluicetest.Start(t)
	srv.CreateTopic(t, "customers", 2, nil)
	p1 := mustProducer(t, ctx, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV1Go](customerV1), client.AutoRegister())
	p2 := mustProducer(t, ctx, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV2Go](customerV2).Validating(), client.AutoRegister())
	if _, err := p1.Produce(ctx, "c1", customerV1Go{ID: "c1", Age: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Produce(ctx, "c2", customerV2Go{ID: "c2", Age: 40, Email: "c2@example.com"}); err != nil {
		t.Fatal(err)
	}

	c1 := mustConsumer(t, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV1Go](customerV1), client.FromEarliest())
	got1 := map[string]customerV1Go{}
	for _, m := range readN(t, ctx, c1, 2) {
		got1[m.Key] = m.Value
	}
	if diff := cmp.Diff(map[string]customerV1Go{"c1": {"c1", 30}, "c2": {"c2", 40}}, got1); diff != "" {
		t.Errorf("v1 consumer (-want +got):\n%s", diff)
	}
	c2 := mustConsumer(t, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV2Go](customerV2), client.FromEarliest())
	got2 := map[string]customerV2Go{}
	versions := map[string]int32{}
	for _, m := range readN(t, ctx, c2, 2) {
		got2[m.Key] = m.Value
		versions[m.Key] = m.Version
	}
	if diff := cmp.Diff(map[string]customerV2Go{"c1": {"c1", 30, ""}, "c2": {"c2", 40, "c2@example.com"}}, got2); diff != "" {
		t.Errorf("v2 consumer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int32{"c1": 1, "c2": 2}, versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}

	_, err := client.NewProducer(ctx, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV3Go](customerV3), client.AutoRegister())
	var ie *client.IncompatibleError
	if !errors.As(err, &ie) || len(ie.Violations) == 0 {
		t.Fatalf("v3 producer: err = %v, want *IncompatibleError with violations", err)
	}
	t.Logf("v3 refused as expected:\n%v", err)

	// With Validating, a value the schema refuses fails in the caller.
	bad := mustProducer(t, ctx, srv.Conn, "customers", primitive.RawString(), jsonschema.Must[customerV3Go](customerV2).Validating())
	if _, err := bad.Produce(ctx, "c3", customerV3Go{ID: 3, VIP: true}); err == nil || !strings.Contains(err.Error(), "does not match the schema") {
		t.Errorf("invalid value: err = %v, want a schema mismatch", err)
	}
}
