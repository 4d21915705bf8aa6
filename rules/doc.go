// Package rules runs the domain rules of a schema version's ruleSet (the
// data contract of DESIGN.md §11) over one record's decoded value.
//
// A Set is compiled once per schema version (Compile) from the parsed schema,
// its metadata and its ruleSet, and is immutable afterwards, so the broker
// caches it beside the schema. Only rules that run on produce are kept:
// domain rules of kind CONDITION, mode WRITE or WRITEREAD, not disabled, of
// type CEL (one condition over the whole record, bound to `message`) or
// CEL_FIELD (one condition per selected primitive field, bound to `value`,
// `name`, `fullName`, `typeName`, `tags` and `message`). TRANSFORM rules,
// migration rules, encoding rules and other rule types (JSONATA, ENCRYPT…)
// belong to clients and are ignored here.
//
// Both CEL types accept Confluent's "guard ; expression" form: the rule runs
// only for records (or fields) where the guard is true.
//
// Check decodes the record only when the set has rules: Avro into maps and
// Go scalars (unions unwrapped to their branch's value), JSON into maps,
// Protobuf into a dynamic message that CEL reads natively. An expression that
// fails at run time (a missing field, a type error) is a failure with that
// reason; nothing in evaluation panics on a record's contents.
//
// The outcome of each rule follows Confluent's semantics: onSuccess defaults
// to NONE and onFailure to ERROR; a comma pair "A,B" of a WRITEREAD rule
// names the write action first. ERROR refuses the record, NONE lets it
// through, DLQ diverts it to params["dlq.topic"].
package rules
