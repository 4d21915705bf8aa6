package registry

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/registry/internal/store"
)

// Deletion model (spec §4.9, §4.10, §9). A soft delete marks versions
// deleted: they leave version lists, latest, lookups and compatibility
// history, but their ids stay readable and their numbers stay taken. A hard
// (permanent) delete, allowed only after a soft delete, removes versions;
// a schema id that no version uses any more is removed with them (its
// number is never handed out again), and a subject left with no version
// loses its configuration and mode.

// DeleteVersion soft-deletes (or, with permanent, hard-deletes) one version
// of subject and returns its number; Latest means the latest live version.
//
// Errors: ErrInvalidSubject, ErrInvalidVersion, ErrOperationNotPermitted
// (READONLY), ErrSubjectNotFound, ErrVersionNotFound, ErrVersionSoftDeleted
// (soft delete twice), ErrVersionNotSoftDeleted (permanent on a live
// version), ErrReferenceExists (a live schema references the version, or
// for a permanent delete any schema), ErrStore.
func (r *Registry) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) (int, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return 0, err
	}
	if err := checkVersion(subj, version); err != nil {
		return 0, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	st := r.st
	if err := r.writable(subj, "delete"); err != nil {
		return 0, err
	}
	sub := st.subjects[subj]
	if sub == nil {
		return 0, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	var v *versionEntry
	if version == Latest {
		if v = sub.latestLive(); v == nil {
			return 0, fmt.Errorf("subject %q: no live version for latest: %w", subj, ErrVersionNotFound)
		}
	} else if v = sub.find(version); v == nil {
		return 0, fmt.Errorf("subject %q version %d: %w", subj, version, ErrVersionNotFound)
	}
	n := v.version
	w := &store.Write{}
	if !permanent {
		if v.deleted {
			return 0, fmt.Errorf("subject %q version %d: %w", subj, n, ErrVersionSoftDeleted)
		}
		if ids := st.blockers(subj, n, false, false); len(ids) > 0 {
			return 0, fmt.Errorf("subject %q version %d: %w by live schema id(s) %v", subj, n, ErrReferenceExists, ids)
		}
		w.PutVersions = []store.Version{{Subject: subj, Version: n, SchemaID: v.id, Deleted: true}}
	} else {
		if !v.deleted {
			return 0, fmt.Errorf("subject %q version %d: %w", subj, n, ErrVersionNotSoftDeleted)
		}
		if ids := st.blockers(subj, n, true, false); len(ids) > 0 {
			return 0, fmt.Errorf("subject %q version %d: %w by schema id(s) %v", subj, n, ErrReferenceExists, ids)
		}
		r.hardDeleteLocked(w, map[store.VersionKey]bool{{Subject: subj, Version: n}: true})
	}
	if err := r.commit(ctx, w, nil, fmt.Sprintf("subject %q version %d: delete", subj, n)); err != nil {
		return 0, err
	}
	return n, nil
}

// blockers returns the ids of schemas referencing subj's version n that
// prevent deleting it: referrers with a live use (any use when
// permanent); with otherSubjects, only uses in subjects other than subj
// count (a subject's references to itself do not block deleting it whole).
func (s *state) blockers(subj string, n int, permanent, otherSubjects bool) []int {
	var out []int
	for _, id := range s.referrers(subj, n) {
		u := s.usageOf(id, subj)
		var blocks bool
		switch {
		case otherSubjects && permanent:
			blocks = u.anyOther
		case otherSubjects:
			blocks = u.liveOther
		case permanent:
			blocks = u.any
		default:
			blocks = u.live
		}
		if blocks {
			out = append(out, id)
		}
	}
	return out
}

// DeleteSubject soft-deletes every live version of subject (or, with
// permanent, hard-deletes every version, which must all be soft-deleted
// already) and returns the version numbers it deleted, ascending. A
// permanent delete also removes the subject's configuration and mode.
//
// Errors: ErrInvalidSubject, ErrOperationNotPermitted (READONLY),
// ErrSubjectNotFound, ErrSubjectSoftDeleted (soft delete twice),
// ErrSubjectNotSoftDeleted (permanent with live versions),
// ErrReferenceExists (a schema in another subject references a version),
// ErrStore.
func (r *Registry) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	subj, err := canonicalSubject(subject)
	if err != nil {
		return nil, err
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	st := r.st
	if err := r.writable(subj, "delete"); err != nil {
		return nil, err
	}
	sub := st.subjects[subj]
	if sub == nil {
		return nil, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotFound)
	}
	live := sub.hasLive()
	switch {
	case !permanent && !live:
		return nil, fmt.Errorf("subject %q: %w", subj, ErrSubjectSoftDeleted)
	case permanent && live:
		return nil, fmt.Errorf("subject %q: %w", subj, ErrSubjectNotSoftDeleted)
	}
	w := &store.Write{}
	gone := map[store.VersionKey]bool{}
	var deleted []int
	for _, v := range sub.versions {
		if !permanent && v.deleted {
			continue
		}
		if ids := st.blockers(subj, v.version, permanent, true); len(ids) > 0 {
			return nil, fmt.Errorf("subject %q version %d: %w by schema id(s) %v in other subjects", subj, v.version, ErrReferenceExists, ids)
		}
		deleted = append(deleted, v.version)
		if permanent {
			gone[store.VersionKey{Subject: subj, Version: v.version}] = true
		} else {
			w.PutVersions = append(w.PutVersions, store.Version{Subject: subj, Version: v.version, SchemaID: v.id, Deleted: true})
		}
	}
	if permanent {
		r.hardDeleteLocked(w, gone)
	}
	if err := r.commit(ctx, w, nil, fmt.Sprintf("subject %q: delete", subj)); err != nil {
		return nil, err
	}
	return deleted, nil
}
