package client

import (
	"errors"
	"fmt"
	"strings"
)

// HandlerSlot is one function of a generated handler struct (one per event
// type of a multi-event topic) and whether it is set.
type HandlerSlot struct {
	Name string
	Set  bool
}

// RequireHandlers fails, naming every missing function, unless every slot
// of the handler struct named structName is set. Generated code calls it
// when a dispatching handler is built, so that a topic's event type without
// a handler is found at start-up, not when its first record arrives.
func RequireHandlers(structName string, slots ...HandlerSlot) error {
	var missing []string
	for _, s := range slots {
		if !s.Set {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: no handler for %s (every event type of the topic needs one)", structName, strings.Join(missing, ", "))
	}
	return nil
}

// ErrUnknownEvent marks a record whose event type the generated handler
// does not know: none is set, or it was added by a newer schema.
var ErrUnknownEvent = errors.New("unknown event type")

// UnknownEventError is a record a generated dispatching handler could not
// dispatch.
type UnknownEventError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Field names the oneof (or union) that selects the event type.
	Field string
}

// Error names the record and the field.
func (e *UnknownEventError) Error() string {
	if e.Topic == "" {
		return fmt.Sprintf("%s: %v (regenerate the code from the newer schema, or set the Unknown handler)", e.Field, ErrUnknownEvent)
	}
	return fmt.Sprintf("%s partition %d offset %d: %s: %v (regenerate the code from the newer schema, or set the Unknown handler)", e.Topic, e.Partition, e.Offset, e.Field, ErrUnknownEvent)
}

// Is makes errors.Is(err, ErrUnknownEvent) true.
func (e *UnknownEventError) Is(target error) bool { return target == ErrUnknownEvent }
