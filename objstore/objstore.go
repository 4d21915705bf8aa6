// Package objstore is where a cluster's record bytes live: a store of
// immutable objects under '/'-separated keys, written whole and read by byte
// range.
//
// Sluice defines its own small interface, [Store], rather than adopting a
// cloud SDK's: the shared log needs four operations, and each implementation
// promises the same things, checked by one conformance suite
// (objstore/objstoretest):
//
//   - [Dir]: a directory, local or on a shared filesystem (file:///DIR).
//   - [S3]: any S3-compatible service (s3://BUCKET?endpoint=URL).
//   - [Faulty]: a decorator that injects errors, latency, lost responses and
//     stalls, for fault tests of the code above.
//
// [Open] makes a store from a URL (the --objects flag of sluice serve).
package objstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Store holds objects. Every method is safe for concurrent use, also by
// several processes sharing one underlying store.
type Store interface {
	// Put stores data as the whole object key, replacing any object there.
	// It is atomic: a reader sees either the previous object (or none) or
	// all of data, never a part. When Put returns nil the object is
	// durable.
	Put(ctx context.Context, key string, data []byte) error
	// GetRange returns n bytes of object key from offset off, or every
	// byte from off to the end when n < 0. A range running past the end
	// is cut at the end; an off beyond the end is a *RangeError. A missing
	// object is a *NotFoundError (errors.Is(err, ErrNotFound)).
	GetRange(ctx context.Context, key string, off, n int64) ([]byte, error)
	// Delete removes object key. A missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix ("" for all),
	// sorted by key (byte order).
	List(ctx context.Context, prefix string) ([]Object, error)
}

// Object describes one stored object.
type Object struct {
	// Key is the object's key.
	Key string
	// Size is its length in bytes.
	Size int64
}

// ErrNotFound is matched (errors.Is) by every *NotFoundError.
var ErrNotFound = errors.New("object not found")

// NotFoundError says that an object does not exist.
type NotFoundError struct {
	// Key is the missing object's key.
	Key string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("object %q not found", e.Key) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// RangeError says that a read started beyond the end of an object.
type RangeError struct {
	// Key is the object's key.
	Key string
	// Off is the offset asked for.
	Off int64
	// Size is the object's size.
	Size int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("object %q: offset %d is beyond its end (%d bytes)", e.Key, e.Off, e.Size)
}

// KeyError says that a key or prefix is not acceptable, and why.
type KeyError struct {
	// Key is the refused key or prefix.
	Key string
	// Reason says what is wrong with it.
	Reason string
}

func (e *KeyError) Error() string { return fmt.Sprintf("object key %q: %s", e.Key, e.Reason) }

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// maxSegmentLen is the longest segment accepted, in bytes (the file-name
// limit of common filesystems), so that every key works on every store.
const maxSegmentLen = 255

// CheckKey returns a *KeyError if key cannot name an object: keys are
// relative, '/'-separated names of at most MaxKeyLen bytes of UTF-8 whose
// segments are non-empty, at most 255 bytes, do not start with '.' (which
// also refuses "." and ".."; names starting with '.' are the stores' own) and
// hold no control characters or backslashes.
func CheckKey(key string) error {
	if key == "" {
		return &KeyError{Key: key, Reason: "empty"}
	}
	if err := checkName(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := checkSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// CheckPrefix returns a *KeyError if prefix cannot start a key: "" and
// every prefix of a valid key (such as "wal/" or "wal/no") are accepted.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := checkName(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		if i == len(segs)-1 && seg == "" {
			break // a trailing '/': the prefix of a directory
		}
		if err := checkSegment(prefix, seg); err != nil {
			return err
		}
	}
	return nil
}

func checkName(name string) error {
	if len(name) > MaxKeyLen {
		return &KeyError{Key: name, Reason: fmt.Sprintf("%d bytes long, more than %d", len(name), MaxKeyLen)}
	}
	if !utf8.ValidString(name) {
		return &KeyError{Key: name, Reason: "not valid UTF-8"}
	}
	if strings.HasPrefix(name, "/") {
		return &KeyError{Key: name, Reason: "absolute (starts with '/'); keys are relative"}
	}
	for i, r := range name {
		if r < 0x20 || r == 0x7f {
			return &KeyError{Key: name, Reason: fmt.Sprintf("control character %U at byte %d", r, i)}
		}
		if r == '\\' {
			return &KeyError{Key: name, Reason: fmt.Sprintf("backslash at byte %d; keys are '/'-separated", i)}
		}
	}
	return nil
}

func checkSegment(name, seg string) error {
	switch {
	case seg == "":
		return &KeyError{Key: name, Reason: "empty segment (leading, trailing or doubled '/')"}
	case seg == "." || seg == "..":
		return &KeyError{Key: name, Reason: fmt.Sprintf("segment %q escapes or repeats its directory", seg)}
	case seg[0] == '.':
		return &KeyError{Key: name, Reason: fmt.Sprintf("segment %q starts with '.' (reserved for the stores' own files)", seg)}
	case len(seg) > maxSegmentLen:
		return &KeyError{Key: name, Reason: fmt.Sprintf("a segment is %d bytes long, more than %d", len(seg), maxSegmentLen)}
	}
	return nil
}

// checkRange validates a GetRange request against an object's size and
// returns the byte count to read.
func checkRange(key string, off, n, size int64) (int64, error) {
	if off < 0 {
		return 0, fmt.Errorf("object %q: negative offset %d", key, off)
	}
	if off > size {
		return 0, &RangeError{Key: key, Off: off, Size: size}
	}
	if n < 0 || n > size-off {
		n = size - off
	}
	return n, nil
}

func sortObjects(objs []Object) {
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
}
