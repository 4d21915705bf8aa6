package registry

import (
	"fmt"

	"github.com/sluicehq/sluice/rules"
)

// compileRules refuses, with ErrInvalidRuleSet (42210), a rule set whose
// produce-side rules (the CEL and CEL_FIELD conditions the broker enforces,
// DESIGN.md §11) do not compile against the schema; the message is the CEL
// compiler's. Rules the broker does not run are only shape-checked.
func compileRules(subj string, p prepared) error {
	if len(p.schema.RuleSet) == 0 || p.parsed == nil {
		return nil
	}
	if _, err := rules.Compile(p.parsed, p.schema.Metadata, p.schema.RuleSet); err != nil {
		return fmt.Errorf("subject %q: %w: %v", subj, ErrInvalidRuleSet, err)
	}
	return nil
}
