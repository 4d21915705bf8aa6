package avro_test

import (
	"testing"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/avro"
)

// TestResolved checks Confluent's format=resolved (Apache Avro's
// Schema.toString of a schema parsed with its references): the named types
// of the references are defined where first used and named after that, the
// text parses with no references, and without references it is Canonical.
func TestResolved(t *testing.T) {
	geo := `{"type":"record","name":"Geo","namespace":"com.acme","fields":[{"name":"lat","type":"double"}]}`
	address := `{"type":"record","name":"Address","namespace":"com.acme","fields":[{"name":"street","type":"string"},{"name":"at","type":"com.acme.Geo"}]}`
	// Place defines its own Spot inline, which the main schema uses by
	// name before it uses Place.
	place := `{"type":"record","name":"Place","namespace":"org.maps","fields":[{"name":"spot","type":{"type":"record","name":"Spot","fields":[{"name":"x","type":"int"}]}}]}`
	cases := []struct {
		name, text string
		refs       []serde.Referenced
		want       string
	}{
		{
			name: "no references",
			text: `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`,
			want: `{"type":"record","name":"Order","fields":[{"name":"id","type":"long"}]}`,
		},
		{
			name: "reference used twice, with its own reference",
			text: `{"type":"record","name":"Customer","namespace":"com.acme","fields":[{"name":"home","type":"Address"},{"name":"work","type":["null","com.acme.Address"],"default":null},{"name":"pin","type":"Geo"}]}`,
			refs: []serde.Referenced{{Name: "com.acme.Geo", Text: geo}, {Name: "com.acme.Address", Text: address}},
			want: `{"type":"record","name":"Customer","namespace":"com.acme","fields":[` +
				`{"name":"home","type":{"type":"record","name":"Address","fields":[{"name":"street","type":"string"},{"name":"at","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"}]}}]}},` +
				`{"name":"work","type":["null","Address"],"default":null},` +
				`{"name":"pin","type":"Geo"}]}`,
		},
		{
			name: "reference in another namespace, nested type used first",
			text: `{"type":"record","name":"Trip","namespace":"com.acme","fields":[{"name":"start","type":"org.maps.Spot"},{"name":"to","type":"org.maps.Place"}]}`,
			refs: []serde.Referenced{{Name: "org.maps.Place", Text: place}},
			want: `{"type":"record","name":"Trip","namespace":"com.acme","fields":[` +
				`{"name":"start","type":{"type":"record","name":"Spot","namespace":"org.maps","fields":[{"name":"x","type":"int"}]}},` +
				`{"name":"to","type":{"type":"record","name":"Place","namespace":"org.maps","fields":[{"name":"spot","type":"Spot"}]}}]}`,
		},
		{
			name: "top-level reference",
			text: `"com.acme.Geo"`,
			refs: []serde.Referenced{{Name: "com.acme.Geo", Text: geo}},
			want: geo,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := avro.Parse(tc.text, tc.refs)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Resolved()
			if got != tc.want {
				t.Errorf("Resolved =\n%s\nwant\n%s", got, tc.want)
			}
			alone, err := avro.Parse(got, nil)
			if err != nil {
				t.Fatalf("the resolved text does not stand alone: %v", err)
			}
			if alone.Canonical() != got {
				t.Errorf("the resolved text is not canonical: parses to\n%s", alone.Canonical())
			}
			if len(tc.refs) == 0 && got != s.Canonical() {
				t.Errorf("without references Resolved %s differs from Canonical %s", got, s.Canonical())
			}
		})
	}
}

// TestResolvedStandsAlone checks every valid case with references: the
// resolved text parses without them to the same schema (the same codec
// schema, in Avro's Parsing Canonical Form).
func TestResolvedStandsAlone(t *testing.T) {
	for _, tc := range validCases {
		if len(tc.refs) == 0 {
			continue
		}
		s, err := avro.Parse(tc.text, tc.refs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		alone, err := avro.Parse(s.Resolved(), nil)
		if err != nil {
			t.Errorf("%s: resolved text %s does not parse alone: %v", tc.name, s.Resolved(), err)
			continue
		}
		if a, b := s.Avro().String(), alone.Avro().String(); a != b {
			t.Errorf("%s: resolved text is another schema:\n%s\n%s", tc.name, a, b)
		}
	}
}
