package broker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// TopicID is a topic's UUID, as Kafka clients see it (Metadata v10+, Fetch
// v13+, KIP-848 assignments). A topic gets a new one each time it is
// created, so a client holding the id of a deleted topic cannot reach a new
// topic of the same name. It is stored in meta.db (broker_topics.topic_id).
type TopicID [16]byte

// String renders the id as Kafka does (Uuid.toString): 22 characters of
// unpadded base64url.
func (id TopicID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero UUID, which Kafka uses for "no id".
func (id TopicID) IsZero() bool { return id == TopicID{} }

// ParseTopicID parses the 22-character base64url form.
func ParseTopicID(s string) (TopicID, error) {
	var id TopicID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, invalidf("topic id %q: want 22 characters of base64url (a UUID as Kafka prints it)", s)
	}
	copy(id[:], b)
	return id, nil
}

// newKafkaUUID returns a random (version 4) UUID that Kafka would also
// generate: never the zero id or the reserved metadata-topic id (1), and not
// starting with '-' in its string form, which Kafka's command-line tools
// would read as a flag (AK Uuid.randomUuid).
func newKafkaUUID() [16]byte {
	for {
		u := uuid.New()
		s := base64.RawURLEncoding.EncodeToString(u[:])
		if s[0] != '-' && u != (uuid.UUID{}) && u != (uuid.UUID{15: 1}) {
			return u
		}
	}
}

// ErrUnknownTopicID: no live topic has the id (Kafka's UNKNOWN_TOPIC_ID).
var ErrUnknownTopicID = errors.New("unknown topic id")

// TopicByID returns the name of the live topic whose id is id.
func (b *Broker) TopicByID(id TopicID) (string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return "", ErrClosed
	}
	for name, t := range b.topics {
		if t.id == id {
			return name, nil
		}
	}
	return "", fmt.Errorf("topic id %s: %w", id, ErrUnknownTopicID)
}

// assignMissingTopicIDs gives an id to every topic row without one (rows
// written before topic ids existed). It runs in load, before topics open.
func (b *Broker) assignMissingTopicIDs(ctx context.Context) error {
	err := b.meta.AssignTopicIDs(ctx, func() string { return TopicID(newKafkaUUID()).String() })
	if err != nil {
		return fmt.Errorf("broker: topic ids: %w", err)
	}
	return nil
}
