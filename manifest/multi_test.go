package manifest

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/serde"
)

const createdAvsc = `{"type":"record","name":"OrderCreated","namespace":"shop","fields":[{"name":"id","type":"string"}]}`
const shippedAvsc = `{"type":"record","name":"OrderShipped","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"carrier","type":"string"}]}`

// TestMultiEventTopic: a topic whose values are of several event types,
// each its own subject under the value's topic_record strategy, while the
// key keeps the topic strategy.
func TestMultiEventTopic(t *testing.T) {
	fsys := fstest.MapFS{
		"sluice.yaml": {Data: []byte(`topics:
  - name: shop
    key: {primitive: string}
    value:
      strategy: topic_record
      schemas:
        - file: s/created.avsc
        - {file: s/shipped.avsc, record: shop.OrderShipped}
  - name: single
    value: {file: s/created.avsc, strategy: record}
`)},
		"s/created.avsc": {Data: []byte(createdAvsc)},
		"s/shipped.avsc": {Data: []byte(shippedAvsc)},
	}
	m, err := Load(fsys, "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shop := m.Topics[0]
	if !shop.Multi() || len(shop.Values) != 2 || shop.Value != shop.Values[0] {
		t.Fatalf("shop values: %+v", shop.Values)
	}
	if shop.SideStrategy(serde.Key) != serde.TopicName || shop.SideStrategy(serde.Value) != serde.TopicRecordName {
		t.Errorf("strategies key %s value %s", shop.SideStrategy(serde.Key), shop.SideStrategy(serde.Value))
	}
	if d := cmp.Diff(map[string]string{"value.subject.name.strategy": "topic_record"}, shop.EffectiveConfigs()); d != "" {
		t.Errorf("shop configs (-want +got):\n%s", d)
	}
	if single := m.Topics[1]; single.Multi() || len(single.Values) != 1 || single.SideStrategy(serde.Value) != serde.RecordName {
		t.Errorf("single: %+v", single)
	}
	set, err := m.Resolve(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range set.Subjects {
		got = append(got, s.Topic+" "+s.Side.String()+" "+s.Name+" "+s.File)
	}
	want := []string{
		"shop key shop-key ",
		"shop value shop-shop.OrderCreated s/created.avsc",
		"shop value shop-shop.OrderShipped s/shipped.avsc",
		"single value shop.OrderCreated s/created.avsc",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("subjects (-want +got):\n%s", d)
	}
}

func TestMultiEventErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"topic strategy", "topics:\n  - name: t\n    value:\n      schemas: [{file: a.avsc}, {file: b.avsc}]\n",
			"sluice.yaml:4:17: topic \"t\" lists 2 value schemas under the topic strategy"},
		{"schemas and file", "topics:\n  - name: t\n    value: {strategy: record, file: a.avsc, schemas: [{file: b.avsc}]}\n",
			"sluice.yaml:3:31: the value schema has schemas and file"},
		{"key with several", "topics:\n  - name: t\n    key: {strategy: record, schemas: [{file: a.avsc}, {file: b.avsc}]}\n",
			"only a value can carry several event types"},
		{"empty list", "topics:\n  - name: t\n    value: {strategy: record, schemas: []}\n",
			"the value schemas list is empty"},
		{"primitive event", "topics:\n  - name: t\n    value: {strategy: record, schemas: [{file: a.avsc}, {primitive: string}]}\n",
			"needs a file (a primitive has no record name)"},
		{"config disagrees", "topics:\n  - name: t\n    configs: {value.subject.name.strategy: topic}\n    value: {strategy: record, file: a.avsc}\n",
			"config value.subject.name.strategy is \"topic\" but the value strategy is record"},
		{"bad side strategy", "topics:\n  - name: t\n    value: {strategy: sideways, file: a.avsc}\n",
			"sluice.yaml:3:23: unknown subject name strategy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("sluice.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	// The same event type listed twice is found once the files are read.
	fsys := fstest.MapFS{
		"sluice.yaml": {Data: []byte("topics:\n  - name: t\n    value:\n      strategy: record\n      schemas: [{file: a.avsc}, {file: a.avsc, record: shop.OrderCreated}]\n")},
		"a.avsc":      {Data: []byte(createdAvsc)},
	}
	m, err := Load(fsys, "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resolve(fsys); err == nil || !strings.Contains(err.Error(), `lists the event type of subject "shop.OrderCreated" twice`) {
		t.Fatalf("duplicate event type: %v", err)
	}
}
