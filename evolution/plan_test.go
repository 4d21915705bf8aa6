package evolution_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/registry/compat"
)

// TestLevelLowering: lowering is the partial order of the guarantees a
// level checks.
func TestLevelLowering(t *testing.T) {
	for _, c := range []struct {
		from, to compat.Level
		lost     []string // first word of each lost guarantee
	}{
		{compat.Full, compat.Full, nil},
		{compat.Backward, compat.Full, nil},
		{compat.None, compat.Forward, nil},
		{compat.Full, compat.FullTransitive, nil},
		{compat.BackwardTransitive, compat.FullTransitive, nil},
		{compat.Full, compat.Backward, []string{"forward"}},
		{compat.Full, compat.Forward, []string{"backward"}},
		{compat.Full, compat.None, []string{"backward", "forward"}},
		{compat.Backward, compat.Forward, []string{"backward"}},
		{compat.FullTransitive, compat.Full, []string{"transitivity"}},
		{compat.FullTransitive, compat.Backward, []string{"forward", "transitivity"}},
		{compat.FullTransitive, compat.ForwardTransitive, []string{"backward"}},
		{compat.BackwardTransitive, compat.Backward, []string{"transitivity"}},
		{compat.BackwardTransitive, compat.Forward, []string{"backward"}},
		{compat.BackwardTransitive, compat.Full, []string{"transitivity"}},
		{compat.ForwardTransitive, compat.None, []string{"forward"}},
	} {
		var got []string
		for _, l := range evolution.LevelLowering(c.from, c.to) {
			got = append(got, strings.Fields(l)[0])
		}
		if strings.Join(got, ",") != strings.Join(c.lost, ",") {
			t.Errorf("%s -> %s: lost %q, want %q", c.from, c.to, got, c.lost)
		}
	}
}
