package rules_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/rules"
)

// FuzzCheck: arbitrary record bytes against each format's schema with
// message and field rules never panic (Check's own recover would report
// one as "evaluation failed", which fails the fuzz run) and never pass a
// rule that must fail.
func FuzzCheck(f *testing.F) {
	t := &testing.T{}
	fs := formats(t)
	for i, fm := range fs {
		f.Add(uint8(i), fm.encode(t, goodOrder()))
	}
	f.Add(uint8(0), []byte{0x02, 'x', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(uint8(1), []byte(`{"total":1e400,"lines":[{"n":-1}]}`))
	f.Add(uint8(2), []byte{0x3a, 0x02, 0x08, 0x01})
	sets := make([]*rules.Set, len(fs))
	for i, fm := range fs {
		s, err := rules.Compile(fm.schema, []byte(`{"tags":{"**.ssn":["PII"]}}`), ruleSet(
			`{"name":"m","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"message.lines.all(l, l.n >= 0) && message.qty >= 0","onFailure":"NONE"}`,
			`{"name":"f","kind":"CONDITION","mode":"WRITE","type":"CEL_FIELD","tags":["PII"],"expr":"typeName == 'STRING' ; value.size() < 1000","onFailure":"NONE"}`,
			`{"name":"never","kind":"CONDITION","mode":"WRITE","type":"CEL","expr":"false"}`,
		))
		if err != nil {
			f.Fatal(err)
		}
		sets[i] = s
	}
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		s := sets[int(which)%len(sets)]
		fail, err := s.Check(nil, b)
		if err != nil {
			if strings.Contains(err.Error(), "evaluation failed") {
				t.Fatalf("panic in Check: %v", err)
			}
			return
		}
		if fail == nil || fail.Rule != "never" {
			t.Fatalf("Check(%q) = %v, want rule never to fail", b, fail)
		}
	})
}
