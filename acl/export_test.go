package acl

// DecideIndexed is the Authorizer's indexed decision over rules, for tests
// that hold it to Decide's answers.
func DecideIndexed(rules []Rule, principal string, superuser bool, op Operation, res Resource) Decision {
	return newRuleSet(rules).decide(principal, superuser, op, res)
}
