package registry

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/uuid"
)

// GUID is a schema's content-addressed identity (wire-format spec §8): the
// MD5 digest of the stored text, then each reference's name, subject and
// int32 big-endian version, then, when present, a 0x01 byte and the stored
// compact metadata JSON, then, when present, a 0x01 byte and the stored
// compact rule-set JSON. The same content under several subjects or ids
// has one GUID.
func (s Schema) GUID() uuid.UUID {
	h := md5.New()
	h.Write([]byte(s.Text))
	for _, r := range s.References {
		h.Write([]byte(r.Name))
		h.Write([]byte(r.Subject))
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], uint32(int32(r.Version)))
		h.Write(v[:])
	}
	if len(s.Metadata) > 0 {
		h.Write([]byte{1})
		h.Write(s.Metadata)
	}
	if len(s.RuleSet) > 0 {
		h.Write([]byte{1})
		h.Write(s.RuleSet)
	}
	var g uuid.UUID
	copy(g[:], h.Sum(nil))
	return g
}

// IDsByGUID returns the ids of the stored schemas whose content has guid,
// ascending. The lookup uses an index kept beside the id map; it does not
// scan. An unknown GUID is ErrSchemaNotFound.
func (r *Registry) IDsByGUID(ctx context.Context, guid uuid.UUID) ([]int, error) {
	r.mu.RLock()
	ids := slices.Clone(r.st.idsByGUID[guid])
	r.mu.RUnlock()
	if len(ids) == 0 && r.refreshAfterMiss(ctx) { // cluster mode: look once in the store
		r.mu.RLock()
		ids = slices.Clone(r.st.idsByGUID[guid])
		r.mu.RUnlock()
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("schema guid %s: %w", guid, ErrSchemaNotFound)
	}
	return ids, nil
}

// SchemaByGUID returns the schema whose content has guid, and the lowest
// id that stores it. An unknown GUID is ErrSchemaNotFound.
func (r *Registry) SchemaByGUID(ctx context.Context, guid uuid.UUID) (Schema, int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ids := r.st.idsByGUID[guid]
	if len(ids) == 0 {
		return Schema{}, 0, fmt.Errorf("schema guid %s: %w", guid, ErrSchemaNotFound)
	}
	e := r.st.schemas[ids[0]]
	return e.schema.clone(), ids[0], nil
}
