package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// TestGUIDInEveryResponse checks that the schema GUID, which Confluent 8.x
// clients read from the register, lookup and version responses to write
// header-mode ids, is in each of them (Confluent's Schema and
// RegisterSchemaResponse carry "guid"), and that it is the one GET
// /schemas/ids/{id} serves and GET /schemas/guids/{guid} resolves.
func TestGUIDInEveryResponse(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	body := schemaBody(orderV1, `"metadata":{"properties":{"owner":"team-a"}}`)

	var reg struct {
		ID   int    `json:"id"`
		GUID string `json:"guid"`
	}
	decode(t, s.do(t, "POST", "/subjects/orders-value/versions", body), &reg)
	var byID struct {
		GUID string `json:"guid"`
	}
	decode(t, s.do(t, "GET", fmt.Sprintf("/schemas/ids/%d", reg.ID), ""), &byID)
	if byID.GUID == "" {
		t.Fatal("GET /schemas/ids/{id} has no guid")
	}
	if reg.GUID != byID.GUID {
		t.Errorf("register answered guid %q, GET /schemas/ids/%d %q", reg.GUID, reg.ID, byID.GUID)
	}

	for _, path := range []string{
		"/subjects/orders-value/versions/1",
		"/subjects/orders-value/versions/latest",
		"/subjects/orders-value/metadata?key=owner&value=team-a",
	} {
		var got struct {
			GUID string `json:"guid"`
		}
		decode(t, s.do(t, "GET", path, ""), &got)
		if got.GUID != byID.GUID {
			t.Errorf("GET %s: guid %q, want %q", path, got.GUID, byID.GUID)
		}
	}
	var lookup struct {
		GUID string `json:"guid"`
	}
	decode(t, s.do(t, "POST", "/subjects/orders-value", body), &lookup)
	if lookup.GUID != byID.GUID {
		t.Errorf("lookup: guid %q, want %q", lookup.GUID, byID.GUID)
	}
	var all []struct {
		Subject string `json:"subject"`
		GUID    string `json:"guid"`
	}
	decode(t, s.do(t, "GET", "/schemas", ""), &all)
	if len(all) != 1 || all[0].GUID != byID.GUID {
		t.Errorf("GET /schemas = %+v, want one record with guid %q", all, byID.GUID)
	}
	var byGUID struct {
		Schema string `json:"schema"`
	}
	decode(t, s.do(t, "GET", "/schemas/guids/"+reg.GUID, ""), &byGUID)
	if byGUID.Schema == "" {
		t.Errorf("GET /schemas/guids/%s has no schema", reg.GUID)
	}

	// A second subject with the same content shares the GUID, and another
	// content has another one.
	var other struct {
		ID   int    `json:"id"`
		GUID string `json:"guid"`
	}
	decode(t, s.do(t, "POST", "/subjects/orders-key/versions", schemaBody(orderV1, `"metadata":{"properties":{"owner":"team-a"}}`)), &other)
	if other.GUID != reg.GUID {
		t.Errorf("same content in another subject: guid %q, want %q", other.GUID, reg.GUID)
	}
	decode(t, s.do(t, "POST", "/subjects/orders-value/versions", schemaBody(orderV2)), &other)
	if other.GUID == "" || other.GUID == reg.GUID {
		t.Errorf("new content: guid %q, want a new one (old %q)", other.GUID, reg.GUID)
	}
}

// TestGUIDFranzGo reads the GUID through franz-go's sr client, whose
// SubjectSchema has the 8.x guid member.
func TestGUIDFranzGo(t *testing.T) {
	s := newServer(t, registry.Config{}, rest.Config{})
	cl, err := sr.NewClient(sr.URLs(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cl.RegisterSchema(ctx, "orders-value", sr.Schema{Schema: orderV1}, -1, -1); err != nil {
		t.Fatal(err)
	}
	byVersion, err := cl.SchemaByVersion(ctx, "orders-value", 1)
	if err != nil {
		t.Fatal(err)
	}
	looked, err := cl.LookupSchema(ctx, "orders-value", sr.Schema{Schema: orderV1})
	if err != nil {
		t.Fatal(err)
	}
	if byVersion.GUID == "" || looked.GUID != byVersion.GUID {
		t.Fatalf("SchemaByVersion guid %q, LookupSchema guid %q; want the same, not empty", byVersion.GUID, looked.GUID)
	}
	byGUID, err := cl.SchemaByGUID(ctx, byVersion.GUID)
	if err != nil || byGUID.Schema.Schema != byVersion.Schema.Schema {
		t.Fatalf("SchemaByGUID(%s) = %+v, %v; want the schema of version 1", byVersion.GUID, byGUID, err)
	}
}

// decode checks a 200 answer and decodes its body into v.
func decode(t *testing.T, resp response, v any) {
	t.Helper()
	if resp.Status != 200 {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	if err := json.Unmarshal([]byte(resp.Body), v); err != nil {
		t.Fatalf("decode %s: %v", resp.Body, err)
	}
}
