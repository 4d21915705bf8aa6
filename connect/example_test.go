package connect_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connect"
	"github.com/sluicehq/sluice/manifest"
)

// TestExampleFile keeps examples/connect/connectors.yaml (the README's)
// valid.
func TestExampleFile(t *testing.T) {
	t.Setenv("SHOP_DATABASE_URL", "postgres://u@localhost/shop")
	f, err := connect.Load(filepath.Join("..", "examples", "connect", "connectors.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Connectors) != 2 || f.Connectors[0].Sink == nil || f.Connectors[1].Source == nil {
		t.Fatalf("connectors: %+v", f.Connectors)
	}
	if f.Connectors[0].Sink.Postgres != "postgres://u@localhost/shop" || f.Connectors[1].Source.Tables[0] != "public.customers" {
		t.Fatalf("sink %+v, source %+v", f.Connectors[0].Sink, f.Connectors[1].Source)
	}
}

// TestEnvValuesAreNotYAML: a variable's text is the value as it is, even
// when it would mean something in YAML (a comment, a mapping), and lines
// after it keep their numbers.
func TestEnvValuesAreNotYAML(t *testing.T) {
	t.Setenv("PG_PASSWORD", "a #b: c\nd")
	t.Setenv("PG_HOST", "db.example.com")
	f, err := connect.Parse("c.yaml", []byte("connectors:\n  - name: s\n    type: postgres-sink\n    postgres: postgres://u:${PG_PASSWORD}@${PG_HOST}/shop\n    topic: t\n    $PLAIN: x\n"))
	if err == nil || !strings.Contains(err.Error(), `line 6: unknown key "$PLAIN"`) {
		t.Fatalf("err %v, want the unknown key named at line 6", err)
	}
	f, err = connect.Parse("c.yaml", []byte("connectors:\n  - name: s\n    type: postgres-sink\n    postgres: postgres://u:${PG_PASSWORD}@${PG_HOST}/shop\n    topic: t\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Connectors[0].Sink.Postgres, "postgres://u:a #b: c\nd@db.example.com/shop"; got != want {
		t.Errorf("postgres %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, want string }{
		{"empty", "topics: []\n", "no connectors"},
		{"not yaml", "connectors: [", "connectors.yaml"},
		{"no name", "connectors:\n  - type: postgres-sink\n", "connector 1 has no name"},
		{"twice", "connectors:\n  - {name: a, type: postgres-sink}\n  - {name: a, type: postgres-sink}\n", "declared twice (first at line 2)"},
		{"unknown type", "connectors:\n  - {name: a, type: kafka}\n", `type "kafka": want postgres-sink or postgres-source`},
		{"unknown key", "connectors:\n  - name: a\n    type: postgres-source\n    table: [x]\n", `line 4: unknown key "table"`},
		{"wrong type", "connectors:\n  - name: a\n    type: postgres-sink\n    batch_records: many\n", "line 4"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect.Parse("connectors.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// FuzzParse: any bytes give connectors or an error, never a panic; parsed
// connectors have a name and exactly one of Sink and Source.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "examples", "connect", "connectors.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("connectors:\n  - {name: a, type: postgres-sink, topic: t}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := connect.Parse("f.yaml", b)
		if err != nil {
			return
		}
		for _, c := range file.Connectors {
			if c.Name == "" || (c.Sink == nil) == (c.Source == nil) {
				t.Fatalf("bad connector %+v", c)
			}
		}
	})
}

// TestInSluiceYAML: a connectors: list beside the topics of sluice.yaml is
// read by both the manifest parser (which leaves it to this package) and
// Parse (which reads only it).
func TestInSluiceYAML(t *testing.T) {
	doc := []byte("topics:\n  - name: payments\n    value: {primitive: string}\nconnectors:\n  - name: a\n    type: postgres-sink\n    postgres: postgres://x/y\n    topic: payments\n")
	if _, err := manifest.Parse("sluice.yaml", doc); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	f, err := connect.Parse("sluice.yaml", doc)
	if err != nil || len(f.Connectors) != 1 {
		t.Fatalf("connect: %v %+v", err, f)
	}
}
