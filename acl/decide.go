package acl

// Decision is the outcome of one check.
type Decision struct {
	// Allowed is the answer.
	Allowed bool
	// Rule is the rule that decided (the deny that refused or an allow that
	// granted); nil when a superuser passed or nothing granted.
	Rule *Rule
	// Superuser is set when the principal passed as a superuser.
	Superuser bool
}

// Decide answers whether principal (superuser or not) may perform op on res
// under rules, as Kafka's authorizer does: superusers pass; otherwise a
// matching deny refuses; otherwise a matching allow grants; otherwise the
// request is refused. A rule matches when its principal is the principal's
// name or Wildcard, its resource type is res's, its name applies to res's
// name (literal equal, literal Wildcard, or a prefix), and its operation is op
// or All; an allow of read, write, delete or alter also grants describe. An
// empty principal name (an anonymous request) matches no rule: with
// authorization on, anonymous requests are refused.
func Decide(rules []Rule, principal string, superuser bool, op Operation, res Resource) Decision {
	return decide(principal, superuser, op, res, rules)
}

// decide is Decide over the rules of several sets (the candidates an index
// picked).
func decide(principal string, superuser bool, op Operation, res Resource, sets ...[]Rule) Decision {
	if superuser {
		return Decision{Allowed: true, Superuser: true}
	}
	if principal == "" {
		return Decision{}
	}
	var allow *Rule
	for _, rules := range sets {
		for i := range rules {
			r := &rules[i]
			if r.Resource != res.Type || (r.Principal != principal && r.Principal != Wildcard) || !nameMatches(*r, res.Name) {
				continue
			}
			switch r.Permission {
			case Deny:
				if r.Operation == op || r.Operation == All {
					return Decision{Rule: r}
				}
			case Allow:
				if allow == nil && grants(r.Operation, op) {
					allow = r
				}
			}
		}
	}
	if allow != nil {
		return Decision{Allowed: true, Rule: allow}
	}
	return Decision{}
}

// ruleSet is the Authorizer's cached rules with an index, so that a check
// looks at the rules that can apply (literal rules for the name and for
// "*", the prefixed rules of the type) rather than all of them. Immutable
// once built.
type ruleSet struct {
	all      []Rule
	literal  map[Resource][]Rule
	prefixed map[ResourceType][]Rule
}

func newRuleSet(rules []Rule) *ruleSet {
	rs := &ruleSet{all: rules, literal: map[Resource][]Rule{}, prefixed: map[ResourceType][]Rule{}}
	for _, r := range rules {
		if r.Pattern == Prefixed {
			rs.prefixed[r.Resource] = append(rs.prefixed[r.Resource], r)
		} else {
			k := Resource{r.Resource, r.Name}
			rs.literal[k] = append(rs.literal[k], r)
		}
	}
	return rs
}

func (rs *ruleSet) decide(principal string, superuser bool, op Operation, res Resource) Decision {
	return decide(principal, superuser, op, res,
		rs.literal[res], rs.literal[Resource{res.Type, Wildcard}], rs.prefixed[res.Type])
}

// grants reports whether an allow of have grants want.
func grants(have, want Operation) bool {
	if have == want || have == All {
		return true
	}
	if want == Describe {
		switch have {
		case Read, Write, Delete, Alter:
			return true
		}
	}
	return false
}
