package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/registry/internal/store"
)

// OpenWithFailingApply opens the registry on cfg.DB with a store whose
// Apply fails whenever *fail is true, to test that a failed commit changes
// nothing in memory.
func OpenWithFailingApply(ctx context.Context, cfg Config, fail *bool) (*Registry, error) {
	if cfg.MaxSchemaBytes == 0 {
		cfg.MaxSchemaBytes = DefaultMaxSchemaBytes
	}
	r, err := Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.store = failingStore{Store: r.store, fail: fail}
	return r, nil
}

type failingStore struct {
	store.Store
	fail *bool
}

func (f failingStore) Apply(ctx context.Context, w *store.Write) error {
	if *f.fail {
		return fmt.Errorf("injected failure")
	}
	return f.Store.Apply(ctx, w)
}

// Dump renders the whole in-memory state deterministically, so tests can
// compare states before and after an operation.
func Dump(r *Registry) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "maxID %d\n", r.st.maxID)
	ids := make([]int, 0, len(r.st.schemas))
	for id := range r.st.schemas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := r.st.schemas[id]
		fmt.Fprintf(&b, "schema %d %s %q refs=%v md=%s rs=%s\n", id, e.schema.Type, e.schema.Text, e.schema.References, e.schema.Metadata, e.schema.RuleSet)
	}
	names := make([]string, 0, len(r.st.subjects))
	for n := range r.st.subjects {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, v := range r.st.subjects[n].versions {
			fmt.Fprintf(&b, "version %q %d id=%d deleted=%v\n", n, v.version, v.id, v.deleted)
		}
	}
	for _, m := range []map[string]string{configStrings(r.st.configs), modeStrings(r.st.modes)} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "setting %q %s\n", k, m[k])
		}
	}
	return b.String()
}

func configStrings(cs map[string]SubjectConfig) map[string]string {
	out := map[string]string{}
	for k, c := range cs {
		s, _ := encodeConfig(c)
		out[k] = "config " + s
	}
	return out
}

func modeStrings(ms map[string]Mode) map[string]string {
	out := map[string]string{}
	for k, m := range ms {
		out[k+"\x00mode"] = "mode " + string(m)
	}
	return out
}

// HoldCatchUp stops r from applying other nodes' writes (and from
// reporting its version) until release is called: it holds the mutex that
// catching up takes.
func HoldCatchUp(r *Registry) (release func()) {
	r.writeMu.mu.Lock()
	return sync.OnceFunc(r.writeMu.mu.Unlock)
}
