package pgsource

import (
	"strings"
	"testing"
)

func TestConfigNames(t *testing.T) {
	base := Config{Name: "shop", Postgres: "postgres://u@h/db", Tables: []string{"public.customers"}}
	for _, tc := range []struct {
		name              string
		slot, publication string
		want              string // an error containing it, or "" for none
	}{
		{"defaults", "", "", ""},
		{"given", "s_1", "p_1", ""},
		{"upper-case slot", "Slot", "", `slot "Slot"`},
		// PostgreSQL would fold it to mypub in publication_names.
		{"upper-case publication", "", "MyPub", `publication "MyPub"`},
		{"quote in publication", "", "p'x", `publication "p'x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			c.Slot, c.Publication = tc.slot, tc.publication
			got, err := c.withDefaults()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("withDefaults: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("withDefaults: %v, want an error containing %q", err, tc.want)
			case tc.want == "" && tc.slot == "" && (got.Slot != "sluice_shop" || got.Publication != "sluice_shop"):
				t.Fatalf("defaults: slot %q, publication %q", got.Slot, got.Publication)
			}
		})
	}
}
