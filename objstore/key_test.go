package objstore

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	for _, c := range []struct {
		key    string
		reason string // "" = accepted
	}{
		{"a", ""},
		{"wal/node-1/01J9Z", ""},
		{"seg/7/0/00000000000000000042", ""},
		{"ünïcode/ключ", ""},
		{"a..b/c", ""},
		{"", "empty"},
		{"/a", "absolute"},
		{"a/", "empty segment"},
		{"a//b", "empty segment"},
		{"..", "escapes"},
		{"a/../b", "escapes"},
		{"./a", "escapes"},
		{"a/.tmp-1", "starts with '.'"},
		{".a", "starts with '.'"},
		{"a\\b", "backslash"},
		{"a\nb", "control character"},
		{"a\x00b", "control character"},
		{"\xff", "UTF-8"},
		{strings.Repeat("a", 256), "segment is 256 bytes"},
		{strings.Repeat("a/", 600) + "a", "more than 1024"},
	} {
		err := CheckKey(c.key)
		if c.reason == "" {
			if err != nil {
				t.Errorf("CheckKey(%q) = %v, want nil", c.key, err)
			}
			continue
		}
		var ke *KeyError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("CheckKey(%q) = %v, want a *KeyError saying %q", c.key, err, c.reason)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, p := range []string{"", "wal", "wal/", "wal/n", "wal/node-1/"} {
		if err := CheckPrefix(p); err != nil {
			t.Errorf("CheckPrefix(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"/", "/wal", "wal//", "../", "a/../", "a/.", ".tmp", "a\\"} {
		if err := CheckPrefix(p); err == nil {
			t.Errorf("CheckPrefix(%q) = nil, want an error", p)
		}
	}
}

// FuzzCheckKey: an accepted key never escapes its store (no empty, "." or
// ".." segment, not absolute), and every prefix of it is an accepted prefix.
func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a//b", "/a", ".x", "ü/ß", "a\\b", "a/b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		if strings.HasPrefix(key, "/") || len(key) > MaxKeyLen {
			t.Fatalf("accepted %q", key)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") || strings.ContainsAny(seg, "\\\x00") {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		for i := range len(key) + 1 {
			if err := CheckPrefix(key[:i]); err != nil && validUTF8Cut(key, i) {
				t.Fatalf("key %q accepted but its prefix %q refused: %v", key, key[:i], err)
			}
		}
	})
}

// validUTF8Cut reports whether cutting key at i leaves whole characters.
func validUTF8Cut(key string, i int) bool {
	return i == len(key) || (key[i]&0xC0) != 0x80
}
