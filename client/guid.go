package client

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/serde"
)

// Header-mode records (wire-format.md §2.2) name their schema by GUID: the
// MD5 digest of the schema content as the registry stores it (§8): the
// text, then per reference its name, subject and big-endian int32 version.
//
// The registry has no GUID index (neither the REST /schemas/guids endpoint
// nor an RPC), so the client resolves a GUID by computing the GUID of each
// version of the subjects the consumer reads (the strategy's subject for
// every record name it knows) and matching. Every GUID computed is cached
// in the Conn with its integer id; a GUID not found makes the next record
// with it scan again (the schema may have been registered since).

// SchemaGUID returns the GUID of a schema as the registry stores it, per
// wire-format.md §8 (no metadata or rule set: the registry keeps neither).
func SchemaGUID(text string, refs []*registryv1.Reference) [16]byte {
	h := md5.New()
	h.Write([]byte(text))
	var v [4]byte
	for _, r := range refs {
		h.Write([]byte(r.GetName()))
		h.Write([]byte(r.GetSubject()))
		binary.BigEndian.PutUint32(v[:], uint32(r.GetVersion()))
		h.Write(v[:])
	}
	var g [16]byte
	h.Sum(g[:0])
	return g
}

// GUIDNotFoundError is a header-mode GUID that no version of the subjects
// searched holds.
type GUIDNotFoundError struct {
	GUID     [16]byte
	Subjects []string
}

// Error names the GUID and the subjects searched.
func (e *GUIDNotFoundError) Error() string {
	return fmt.Sprintf("%s is not the GUID of any version of subject %s (the registry has no GUID index: the client matches the versions of the subjects it reads)",
		serde.Identity{Magic: serde.MagicGUID, GUID: e.GUID}, strings.Join(e.Subjects, ", "))
}

// schemaIDByGUID returns the integer id of the schema with guid, searching
// the versions (deleted ones included) of subjects.
func (c *Conn) schemaIDByGUID(ctx context.Context, guid [16]byte, subjects []string) (int32, error) {
	c.mu.Lock()
	id, ok := c.guids[guid]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	for _, subject := range subjects {
		vs, err := c.registry.ListVersions(ctx, connect.NewRequest(&registryv1.ListVersionsRequest{Subject: subject, Deleted: true}))
		if err != nil {
			if connect.CodeOf(err) == connect.CodeNotFound {
				continue
			}
			return 0, fmt.Errorf("registry: versions of subject %s: %w", subject, err)
		}
		found := map[[16]byte]int32{}
		for _, v := range vs.Msg.GetVersions() {
			res, err := c.registry.GetVersion(ctx, connect.NewRequest(&registryv1.GetVersionRequest{Subject: subject, Version: v, Deleted: true}))
			if err != nil {
				return 0, fmt.Errorf("registry: subject %s version %d: %w", subject, v, err)
			}
			sv := res.Msg.GetVersion()
			found[SchemaGUID(sv.GetSchema().GetText(), sv.GetSchema().GetReferences())] = sv.GetId()
		}
		c.mu.Lock()
		for g, id := range found {
			c.guids[g] = id
		}
		id, ok = c.guids[guid]
		c.mu.Unlock()
		if ok {
			return id, nil
		}
	}
	return 0, &GUIDNotFoundError{GUID: guid, Subjects: subjects}
}
