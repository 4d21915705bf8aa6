package protobuf

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// MessageByIndexes returns the message that a message-index path of
// spec/wire-format.md §3 names: the first element indexes the top-level
// messages, each later one the messages nested in the previous, all 0-based
// in declaration order and counting messages only (enums, services and
// extensions do not count; synthetic map-entry messages do, as they do in
// every descriptor). An empty path means [0], as the wire format's length-0
// shortcut does. Errors wrap ErrNoSuchMessage and say which element is out
// of range.
func (s *Schema) MessageByIndexes(path []int) (protoreflect.MessageDescriptor, error) {
	if len(path) == 0 {
		path = []int{0}
	}
	var (
		md    protoreflect.MessageDescriptor
		msgs  = s.file.Messages()
		scope = "the file"
	)
	for depth, i := range path {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("%w: message-index path %v: element %d is %d, but %s has %s",
				ErrNoSuchMessage, path, depth, i, scope, plural(msgs.Len(), "message"))
		}
		md = msgs.Get(i)
		msgs = md.Messages()
		scope = string(md.FullName())
	}
	return md, nil
}

// IndexesOf returns the message-index path of the message with the given full
// name (package included; a leading dot is allowed). Only messages declared in
// this file have a path. The slice is the caller's to keep.
func (s *Schema) IndexesOf(fullName string) ([]int, error) {
	name := protoreflect.FullName(strings.TrimPrefix(fullName, "."))
	path, ok := s.indexes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a message declared in this schema", ErrNoSuchMessage, fullName)
	}
	return append([]int(nil), path...), nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
