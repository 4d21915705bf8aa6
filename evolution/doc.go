// Package evolution is Sluice's schema-evolution engine: it decides whether
// a set of schemas (the subjects a sluice.yaml manifest implies, or
// explicit files) can ship, shows what changed between two schemas, and
// plans and carries out making a registry and a broker match a manifest.
// `sluice schema check`, `sluice schema diff` and `sluice apply` are thin
// commands over it; CI integrations and the console can call it directly.
//
// One package, because the three share one model: a subject's history in a
// baseline, checked by the registry's own rules (registry/compat) under the
// subject's level, with every violation placed at file:line:col and given
// its old and new values. The rules themselves stay in registry/compat (pure
// functions over parsed schemas); this package adds where the schemas come
// from, where the history comes from, and how the answer is reported.
//
// # Check
//
// An Input (FromManifest, FromFiles) is checked against a Baseline: a
// folder or a git ref holding the same input (Input.Against), or a live
// Confluent-compatible registry (RegistryBaseline), which gives the
// versions a registration would be checked against, the subject's level,
// policy and compatibilityGroup. Check runs the rules here; AskRegistry
// instead asks the registry's compatibility endpoint, for registries whose
// rules may differ. A Report prints as text, JSON or GitHub workflow
// annotations.
//
// # Diff
//
// Diff lists every structural change between two schemas (files, or
// versions in a registry; see ResolveOperands) and marks each breaking when
// the rules of the level report a violation at or under its path.
//
// # Plan and apply
//
// NewPlanner computes a Plan: subject levels, schema registrations in
// dependency order, topic creations and config changes. A plan that would
// break a subject's compatibility or shrink a topic is refused as a whole
// (Plan.Refusals) before anything changes; otherwise each Step's Run
// carries it out.
//
// The package talks to servers over their wire APIs only (srclient for the
// registry, the generated Connect client for topics): it imports neither
// the registry nor the broker cores, nor cmd/ or server.
package evolution
