package registry

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/registry/internal/store"
	"github.com/sluicehq/sluice/serde"
)

// Lock order (the only locks of this package):
//
//	Registry.writeMu  (serialises writers; held for a whole write)
//	  Registry.mu     (guards state; readers RLock, writers Lock only to apply)
//	    schemaEntry.once, Registry.canonMu, answers.mu (leaves: take nothing
//	    after them)
//
// A writer holding writeMu may read state without mu, because only a writer
// holding writeMu ever mutates it. Nothing may call parsed() (which RLocks mu)
// while holding mu.

// state is the in-memory registry, rebuilt from the store at Open and kept
// current by replaying every committed store.Write (apply), so memory and
// database cannot drift apart by construction.
type state struct {
	schemas   map[int]*schemaEntry
	idsByHash map[string][]int    // identity digest -> ids, ascending (IMPORT can give one text two ids)
	idsByGUID map[uuid.UUID][]int // schema GUID (§8) -> ids, ascending
	subjects  map[string]*subjectEntry
	configs   map[string]SubjectConfig // "" is the global configuration
	modes     map[string]Mode          // "" is the global mode
	maxID     int
}

// schemaEntry is one stored schema. Everything but the parse cache and the
// cached answers is immutable.
type schemaEntry struct {
	id     int
	schema Schema
	hash   string // raw sha256 digest of the identity (identity())
	guid   uuid.UUID

	once      sync.Once
	parsedVal serde.Schema
	parseErr  error

	answers answers // transports' cached answers (answers.go)
}

// subjectEntry holds a subject's stored versions, ascending by number.
type subjectEntry struct {
	versions []*versionEntry
}

// versionEntry is one stored version; it is replaced, never changed, when
// the version is soft-deleted, so its cached answers cannot go stale.
type versionEntry struct {
	version int
	id      int
	deleted bool

	answers answers // transports' cached answers (answers.go)
}

func newState() *state {
	return &state{
		schemas:   map[int]*schemaEntry{},
		idsByHash: map[string][]int{},
		idsByGUID: map[uuid.UUID][]int{},
		subjects:  map[string]*subjectEntry{},
		configs:   map[string]SubjectConfig{},
		modes:     map[string]Mode{},
	}
}

// load builds the state from everything the store holds.
func load(st *store.State) (*state, error) {
	s := newState()
	w := &store.Write{
		PutSchemas:  st.Schemas,
		PutVersions: st.Versions,
		PutConfigs:  st.Configs,
		PutModes:    st.Modes,
		MaxID:       st.MaxID,
	}
	if err := s.apply(w, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// apply replays a committed write on the state. parsed optionally carries
// the already parsed form of new schemas, by id, so they are not parsed
// again. The only errors are undecodable stored rows (at load).
func (s *state) apply(w *store.Write, parsed map[int]serde.Schema) error {
	for _, row := range w.PutSchemas {
		e, err := entryFromRow(row)
		if err != nil {
			return err
		}
		if p, ok := parsed[row.ID]; ok && p != nil {
			e.once.Do(func() { e.parsedVal = p })
		}
		s.schemas[row.ID] = e
		ids := s.idsByHash[e.hash]
		if i, found := slices.BinarySearch(ids, row.ID); !found {
			s.idsByHash[e.hash] = slices.Insert(ids, i, row.ID)
		}
		gids := s.idsByGUID[e.guid]
		if i, found := slices.BinarySearch(gids, row.ID); !found {
			s.idsByGUID[e.guid] = slices.Insert(gids, i, row.ID)
		}
		s.maxID = max(s.maxID, row.ID)
	}
	for _, v := range w.PutVersions {
		sub := s.subjects[v.Subject]
		if sub == nil {
			sub = &subjectEntry{}
			s.subjects[v.Subject] = sub
		}
		ve := &versionEntry{version: v.Version, id: v.SchemaID, deleted: v.Deleted}
		i, found := sort.Find(len(sub.versions), func(i int) int { return v.Version - sub.versions[i].version })
		if found {
			sub.versions[i] = ve
		} else {
			sub.versions = slices.Insert(sub.versions, i, ve)
		}
	}
	for _, k := range w.DeleteVersions {
		sub := s.subjects[k.Subject]
		if sub == nil {
			continue
		}
		sub.versions = slices.DeleteFunc(sub.versions, func(v *versionEntry) bool { return v.version == k.Version })
		if len(sub.versions) == 0 {
			delete(s.subjects, k.Subject)
		}
	}
	for _, id := range w.DeleteSchemas {
		e := s.schemas[id]
		if e == nil {
			continue
		}
		delete(s.schemas, id)
		ids := slices.DeleteFunc(s.idsByHash[e.hash], func(x int) bool { return x == id })
		if len(ids) == 0 {
			delete(s.idsByHash, e.hash)
		} else {
			s.idsByHash[e.hash] = ids
		}
		gids := slices.DeleteFunc(s.idsByGUID[e.guid], func(x int) bool { return x == id })
		if len(gids) == 0 {
			delete(s.idsByGUID, e.guid)
		} else {
			s.idsByGUID[e.guid] = gids
		}
	}
	for _, c := range w.PutConfigs {
		cfg, err := decodeConfig(c.Value)
		if err != nil {
			return fmt.Errorf("stored config of %q: %w", c.Subject, err)
		}
		s.configs[c.Subject] = cfg
	}
	for _, subj := range w.DeleteConfigs {
		delete(s.configs, subj)
	}
	for _, m := range w.PutModes {
		s.modes[m.Subject] = Mode(m.Value)
	}
	for _, subj := range w.DeleteModes {
		delete(s.modes, subj)
	}
	s.maxID = max(s.maxID, w.MaxID)
	return nil
}

func entryFromRow(row store.Schema) (*schemaEntry, error) {
	h, err := hex.DecodeString(row.Hash)
	if err != nil {
		return nil, fmt.Errorf("stored schema id %d: bad hash %q: %w", row.ID, row.Hash, err)
	}
	sc := Schema{Type: serde.Format(row.Type), Text: row.Text}
	for _, r := range row.References {
		sc.References = append(sc.References, Reference(r))
	}
	if row.Metadata != "" {
		sc.Metadata = json.RawMessage(row.Metadata)
	}
	if row.RuleSet != "" {
		sc.RuleSet = json.RawMessage(row.RuleSet)
	}
	return &schemaEntry{id: row.ID, schema: sc, hash: string(h), guid: sc.GUID()}, nil
}

// rowFromEntry is the store row of a new schema.
func rowFromEntry(id int, sc Schema, hash string) store.Schema {
	row := store.Schema{
		ID:       id,
		Type:     string(sc.Type),
		Text:     sc.Text,
		Metadata: string(sc.Metadata),
		RuleSet:  string(sc.RuleSet),
		Hash:     hex.EncodeToString([]byte(hash)),
	}
	for _, r := range sc.References {
		row.References = append(row.References, store.Reference(r))
	}
	return row
}

// find returns the entry of version n, or nil.
func (sub *subjectEntry) find(n int) *versionEntry {
	if sub == nil {
		return nil
	}
	i, found := sort.Find(len(sub.versions), func(i int) int { return n - sub.versions[i].version })
	if !found {
		return nil
	}
	return sub.versions[i]
}

// latestLive returns the highest live version, or nil.
func (sub *subjectEntry) latestLive() *versionEntry {
	if sub == nil {
		return nil
	}
	for i := len(sub.versions) - 1; i >= 0; i-- {
		if !sub.versions[i].deleted {
			return sub.versions[i]
		}
	}
	return nil
}

// hasLive reports whether any version is live.
func (sub *subjectEntry) hasLive() bool { return sub.latestLive() != nil }

// maxVersion is the highest stored version number (soft-deleted included),
// 0 when none.
func (sub *subjectEntry) maxVersion() int {
	if sub == nil || len(sub.versions) == 0 {
		return 0
	}
	return sub.versions[len(sub.versions)-1].version
}

// visible reports whether a subject shows up for a read with these options.
func (sub *subjectEntry) visible(deleted bool) bool {
	if sub == nil || len(sub.versions) == 0 {
		return false
	}
	return deleted || sub.hasLive()
}

// matchVersion returns the highest version of sub whose schema has one of
// ids, live only unless deleted; nil when none.
func (sub *subjectEntry) matchVersion(ids []int, deleted bool) *versionEntry {
	if sub == nil || len(ids) == 0 {
		return nil
	}
	for i := len(sub.versions) - 1; i >= 0; i-- {
		v := sub.versions[i]
		if (deleted || !v.deleted) && slices.Contains(ids, v.id) {
			return v
		}
	}
	return nil
}

// idUsed reports whether any version of any subject, other than those in
// except, uses id.
func (s *state) idUsed(id int, except map[store.VersionKey]bool) bool {
	for name, sub := range s.subjects {
		for _, v := range sub.versions {
			if v.id == id && !except[store.VersionKey{Subject: name, Version: v.version}] {
				return true
			}
		}
	}
	return false
}

// liveID reports whether id has a live version somewhere.
func (s *state) liveID(id int) bool {
	for _, sub := range s.subjects {
		for _, v := range sub.versions {
			if v.id == id && !v.deleted {
				return true
			}
		}
	}
	return false
}

// referrers returns the ids of schemas whose references point at subject's
// version n, ascending.
func (s *state) referrers(subject string, n int) []int {
	var out []int
	for id, e := range s.schemas {
		for _, r := range e.schema.References {
			if r.Subject == subject && r.Version == n {
				out = append(out, id)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// usage describes where a schema id is used, for delete protection.
type usage struct {
	live, any           bool // some version (live / live or soft-deleted) uses the id
	liveOther, anyOther bool // same, restricted to subjects other than the one being deleted
}

func (s *state) usageOf(id int, subject string) usage {
	var u usage
	for name, sub := range s.subjects {
		for _, v := range sub.versions {
			if v.id != id {
				continue
			}
			u.any = true
			u.live = u.live || !v.deleted
			if name != subject {
				u.anyOther = true
				u.liveOther = u.liveOther || !v.deleted
			}
		}
	}
	return u
}

// subjectVersion builds the public view of a version.
func (s *state) subjectVersion(subject string, v *versionEntry) SubjectVersion {
	sv := SubjectVersion{Subject: subject, Version: v.version, ID: v.id, Deleted: v.deleted}
	if e := s.schemas[v.id]; e != nil {
		sv.Schema = e.schema.clone()
	}
	return sv
}

// clone copies the slices of a stored schema so callers cannot alter the
// registry's copy.
func (sc Schema) clone() Schema {
	out := sc
	if len(sc.References) > 0 {
		out.References = slices.Clone(sc.References)
	}
	if len(sc.Metadata) > 0 {
		out.Metadata = slices.Clone(sc.Metadata)
	}
	if len(sc.RuleSet) > 0 {
		out.RuleSet = slices.Clone(sc.RuleSet)
	}
	return out
}
