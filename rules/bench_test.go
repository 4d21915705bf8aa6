package rules_test

import (
	"testing"

	"github.com/sluicehq/sluice/rules"
)

// BenchmarkCheck times one CEL condition over one record per format.
func BenchmarkCheck(b *testing.B) {
	for _, f := range formats(&testing.T{}) {
		b.Run(f.name, func(b *testing.B) {
			set, err := rules.Compile(f.schema, nil, ruleSet(`{"name":"positive","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.total > 0.0"}`))
			if err != nil {
				b.Fatal(err)
			}
			t := &testing.T{}
			d := f.encode(t, goodOrder())
			b.ReportAllocs()
			for b.Loop() {
				if fail, err := set.Check(nil, d); err != nil || fail != nil {
					b.Fatal(fail, err)
				}
			}
		})
	}
}
