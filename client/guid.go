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
// The client resolves a GUID with one RegistryService.GetSchemaByGUID call
// (the registry keeps a GUID index) and caches the answer in the Conn with
// its integer id; a GUID not found is asked again for the next record with
// it (the schema may have been registered since).

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

// GUIDNotFoundError is a header-mode GUID that the registry does not know.
type GUIDNotFoundError struct {
	GUID [16]byte
	// Subjects are the subjects the consumer reads, for the message.
	Subjects []string
}

// Error names the GUID and the subjects the consumer reads.
func (e *GUIDNotFoundError) Error() string {
	return fmt.Sprintf("%s is not the GUID of any schema in the registry (consumer reads subject %s)",
		serde.Identity{Magic: serde.MagicGUID, GUID: e.GUID}, strings.Join(e.Subjects, ", "))
}

// schemaIDByGUID returns the integer id of the schema with guid, asking the
// registry once per GUID not yet cached. subjects only name, in a
// GUIDNotFoundError, what the consumer reads.
func (c *Conn) schemaIDByGUID(ctx context.Context, guid [16]byte, subjects []string) (int32, error) {
	c.mu.Lock()
	id, ok := c.guids[guid]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	res, err := c.registry.GetSchemaByGUID(ctx, connect.NewRequest(&registryv1.GetSchemaByGUIDRequest{Guid: guid[:]}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return 0, &GUIDNotFoundError{GUID: guid, Subjects: subjects}
		}
		ident := serde.Identity{Magic: serde.MagicGUID, GUID: guid}
		return 0, c.lookupError(ident, fmt.Errorf("registry: schema %s: %w", ident, err))
	}
	id = res.Msg.GetId()
	c.mu.Lock()
	c.guids[guid] = id
	c.mu.Unlock()
	return id, nil
}
