package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// File is a parsed auth file (--auth-file): who may connect and how. The
// format, documented in docs/security.md:
//
//	users:
//	  - name: alice
//	    password: $argon2id$v=19$m=19456,t=2,p=1$...$...   # or a bcrypt hash
//	    scram-sha-256: {iterations: 8192, salt: ..., stored-key: ..., server-key: ...}
//	    scram-sha-512: {iterations: 8192, salt: ..., stored-key: ..., server-key: ...}
//	tokens:
//	  - principal: ci
//	    sha256: 9f86d0...   # hex SHA-256 of the token; the token itself is never stored
//	superusers: [alice]
//
// `sluice auth hash-password --user NAME` prints a users entry, SCRAM
// credentials included (SCRAM needs its own salted keys: they cannot be
// derived from an argon2id or bcrypt hash); `sluice auth new-token` prints a
// token and its entry.
type File struct {
	users      map[string]*user
	tokens     map[[sha256.Size]byte]string // token hash -> principal name
	superusers map[string]bool
}

// user is one entry of users.
type user struct {
	name     string
	password *passwordHash // nil: the user authenticates with SCRAM only
	scram    map[string]SCRAMCredential
}

// Users is the number of users, for logs.
func (f *File) Users() int { return len(f.users) }

// Tokens is the number of API tokens, for logs.
func (f *File) Tokens() int { return len(f.tokens) }

// IsSuperuser reports whether name is listed under superusers.
func (f *File) IsSuperuser(name string) bool { return f.superusers[name] }

// rawFile is the YAML shape of the auth file.
type rawFile struct {
	Users      []rawUser  `yaml:"users"`
	Tokens     []rawToken `yaml:"tokens"`
	Superusers []string   `yaml:"superusers"`
}

type rawUser struct {
	Name     string    `yaml:"name"`
	Password string    `yaml:"password"`
	SCRAM256 *rawSCRAM `yaml:"scram-sha-256"`
	SCRAM512 *rawSCRAM `yaml:"scram-sha-512"`
}

type rawSCRAM struct {
	Iterations int    `yaml:"iterations"`
	Salt       string `yaml:"salt"`
	StoredKey  string `yaml:"stored-key"`
	ServerKey  string `yaml:"server-key"`
}

type rawToken struct {
	Principal   string `yaml:"principal"`
	SHA256      string `yaml:"sha256"`
	Description string `yaml:"description"`
}

// LoadFile reads and parses the auth file at path.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	return ParseFile(path, data)
}

// goTypeName matches the Go type yaml's errors name (" in type auth.rawUser").
var goTypeName = regexp.MustCompile(` (in|into) (type )?(\[\]|map\[\w+\])?(auth\.raw\w+|string|int)\b`)

// maxFileBytes bounds an auth file.
const maxFileBytes = 16 << 20

// ParseFile parses an auth file's contents; name prefixes errors, which
// name the line and the user or token at fault.
func ParseFile(name string, data []byte) (*File, error) {
	errf := func(line int, format string, args ...any) error {
		if line > 0 {
			return fmt.Errorf("auth file %s: line %d: %s", name, line, fmt.Sprintf(format, args...))
		}
		return fmt.Errorf("auth file %s: %s", name, fmt.Sprintf(format, args...))
	}
	if len(data) > maxFileBytes {
		return nil, errf(0, "larger than %d bytes", maxFileBytes)
	}
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msg = strings.Join(te.Errors, "; ")
		}
		// Go type names mean nothing to the file's author.
		msg = goTypeName.ReplaceAllString(msg, "")
		return nil, errf(0, "%s (the format is in docs/security.md)", msg)
	}
	var doc yaml.Node
	yaml.Unmarshal(data, &doc) // decoded above: it parses
	userLines := itemLines(&doc, "users")
	tokenLines := itemLines(&doc, "tokens")
	superLines := itemLines(&doc, "superusers")

	f := &File{users: map[string]*user{}, tokens: map[[sha256.Size]byte]string{}, superusers: map[string]bool{}}
	for i, ru := range raw.Users {
		line := at(userLines, i)
		if err := checkName(ru.Name); err != nil {
			return nil, errf(line, "user %d: name: %v", i+1, err)
		}
		if strings.Contains(ru.Name, ":") {
			return nil, errf(line, "user %q: name: a colon cannot be sent in HTTP basic auth", ru.Name)
		}
		if _, dup := f.users[ru.Name]; dup {
			return nil, errf(line, "user %q is listed twice", ru.Name)
		}
		u := &user{name: ru.Name, scram: map[string]SCRAMCredential{}}
		if ru.Password != "" {
			h, err := parsePasswordHash(ru.Password)
			if err != nil {
				return nil, errf(line, "user %q: password: %v", ru.Name, err)
			}
			u.password = &h
		}
		for _, m := range []struct {
			mech string
			raw  *rawSCRAM
		}{{SCRAMSHA256, ru.SCRAM256}, {SCRAMSHA512, ru.SCRAM512}} {
			if m.raw == nil {
				continue
			}
			c, err := m.raw.credential(m.mech)
			if err != nil {
				return nil, errf(line, "user %q: %s: %v", ru.Name, strings.ToLower(m.mech), err)
			}
			u.scram[m.mech] = c
		}
		if u.password == nil && len(u.scram) == 0 {
			return nil, errf(line, "user %q has no password hash and no SCRAM credentials: it could never log in (sluice auth hash-password prints them)", ru.Name)
		}
		f.users[ru.Name] = u
	}
	for i, rt := range raw.Tokens {
		line := at(tokenLines, i)
		if err := checkName(rt.Principal); err != nil {
			return nil, errf(line, "token %d: principal: %v", i+1, err)
		}
		sum, err := hex.DecodeString(rt.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, errf(line, "token %d (principal %q): sha256: want the 64 hex digits of the token's SHA-256 (sluice auth new-token prints them)", i+1, rt.Principal)
		}
		k := [sha256.Size]byte(sum)
		if _, dup := f.tokens[k]; dup {
			return nil, errf(line, "token %d (principal %q): the same token hash is listed twice", i+1, rt.Principal)
		}
		f.tokens[k] = rt.Principal
	}
	for i, s := range raw.Superusers {
		if err := checkName(s); err != nil {
			return nil, errf(at(superLines, i), "superuser %d: %v", i+1, err)
		}
		f.superusers[s] = true
	}
	return f, nil
}

// checkName checks a principal name: non-empty, printable, no spaces.
func checkName(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if len(s) > 255 {
		return errors.New("longer than 255 bytes")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("%q has a space or control character", s)
		}
	}
	return nil
}

// itemLines returns the line of each item of the top-level sequence key.
func itemLines(doc *yaml.Node, key string) []int {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, it := range m.Content[i+1].Content {
				lines = append(lines, it.Line)
			}
			return lines
		}
	}
	return nil
}

func at(lines []int, i int) int {
	if i < len(lines) {
		return lines[i]
	}
	return 0
}
