package auth

import (
	"strings"
	"sync"
	"testing"
)

// testHashes are made once: argon2id is slow on purpose.
var testHashes = sync.OnceValues(func() (string, string) {
	a, err := HashPassword("secret", false)
	if err != nil {
		panic(err)
	}
	b, err := HashPassword("secret", true)
	if err != nil {
		panic(err)
	}
	return a, b
})

func TestParseFile(t *testing.T) {
	argon, bc := testHashes()
	entry, err := UserEntry("carol", "pw", false)
	if err != nil {
		t.Fatal(err)
	}
	const tok = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		name    string
		yaml    string
		wantErr string // substring; "" means it parses
	}{
		{"empty", "", ""},
		{"users", "users:\n  - name: alice\n    password: '" + argon + "'\n  - name: bob\n    password: '" + bc + "'\nsuperusers: [alice]\n", ""},
		{"user entry from UserEntry", "users:\n" + indent(entry), ""},
		{"token", "tokens:\n  - principal: ci\n    sha256: " + tok + "\n    description: CI\n", ""},
		{"unknown key", "users:\n  - name: alice\n    passwd: x\n", "line 3: field passwd not found"},
		{"unknown top key", "groups: []\n", "field groups not found"},
		{"plain password", "users:\n  - name: alice\n    password: hunter2\n", `line 2: user "alice": password: not an argon2id`},
		{"no name", "users:\n  - password: '" + argon + "'\n", "line 2: user 1: name: empty"},
		{"space in name", "users:\n  - name: a b\n    password: '" + argon + "'\n", "space or control"},
		{"colon in name", "users:\n  - name: 'a:b'\n    password: '" + argon + "'\n", "colon"},
		{"duplicate", "users:\n  - name: alice\n    password: '" + argon + "'\n  - name: alice\n    password: '" + argon + "'\n", `line 4: user "alice" is listed twice`},
		{"no credentials", "users:\n  - name: alice\n", `user "alice" has no password hash and no SCRAM`},
		{"argon2i", "users:\n  - name: alice\n    password: '$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'\n", "argon2i and argon2d"},
		{"argon2id huge memory", "users:\n  - name: alice\n    password: '$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'\n", "m=99999999 KiB"},
		{"argon2id bad version", "users:\n  - name: alice\n    password: '$argon2id$v=16$m=64,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'\n", "version"},
		{"argon2id missing p", "users:\n  - name: alice\n    password: '$argon2id$v=19$m=64,t=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'\n", "lacks one of"},
		{"argon2id short salt", "users:\n  - name: alice\n    password: '$argon2id$v=19$m=64,t=2,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA'\n", "salt"},
		{"bcrypt garbage", "users:\n  - name: alice\n    password: '$2a$xx'\n", "bad bcrypt hash"},
		{"scram few iterations", "users:\n  - name: alice\n    scram-sha-256: {iterations: 10, salt: c2FsdHNhbHQ=, stored-key: x, server-key: y}\n", `user "alice": scram-sha-256: iterations 10`},
		{"scram bad key", "users:\n  - name: alice\n    scram-sha-512: {iterations: 4096, salt: c2FsdHNhbHQ=, stored-key: c2FsdHNhbHQ=, server-key: y}\n", "stored-key: want 64 bytes"},
		{"token bad hash", "tokens:\n  - principal: ci\n    sha256: abc\n", `line 2: token 1 (principal "ci"): sha256`},
		{"token no principal", "tokens:\n  - sha256: " + tok + "\n", "line 2: token 1: principal: empty"},
		{"token twice", "tokens:\n  - principal: a\n    sha256: " + tok + "\n  - principal: b\n    sha256: " + tok + "\n", "line 4: token 2"},
		{"superuser empty", "superusers: ['']\n", "line 1: superuser 1: empty"},
		{"not yaml", "users: [\n", "auth file t.yaml:"},
		{"users not a list", "users: alice\n", "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("t.yaml", []byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseFile: %v", err)
				}
				if f == nil {
					t.Fatal("nil file")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseFile error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "auth.raw") {
				t.Errorf("error %q names a Go type", err)
			}
			if !strings.HasPrefix(err.Error(), "auth file t.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseFileContents(t *testing.T) {
	argon, _ := testHashes()
	f, err := ParseFile("t", []byte("users:\n  - name: alice\n    password: '"+argon+"'\n  - name: bob\n    password: '"+argon+"'\ntokens:\n  - principal: ci\n    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nsuperusers: [alice, ops]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Users() != 2 || f.Tokens() != 1 {
		t.Errorf("users %d tokens %d, want 2 and 1", f.Users(), f.Tokens())
	}
	if !f.IsSuperuser("alice") || !f.IsSuperuser("ops") || f.IsSuperuser("bob") {
		t.Error("superusers wrong")
	}
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte("users:\n  - name: alice\n    password: '$2a$04$abcdefghijklmnopqrstuu5Yk1a1t6u8nZ0WZP6yQz2n5yAcGfNsa'\n"))
	f.Add([]byte("tokens:\n  - principal: ci\n    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nsuperusers: [x]\n"))
	f.Add([]byte("users:\n  - name: a\n    scram-sha-256: {iterations: 4096, salt: c2FsdHNhbHQ=, stored-key: x, server-key: y}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile("fuzz", data)
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
	})
}

// TestUserEntryNames: every name UserEntry accepts round-trips through the
// parser, bare or quoted.
func TestUserEntryNames(t *testing.T) {
	for _, name := range []string{"alice", "bob.smith@example.com", "yes", "null", "1234", "x-y_z", "é", "a\"b", "#x", "-x", "ü@x", "0x10"} {
		if got := yamlString(name); got == name && (name == "yes" || name == "null" || name == "1234" || name == "0x10") {
			t.Errorf("yamlString(%q) left it bare", name)
		}
		f, err := ParseFile("t", []byte("superusers: ["+yamlString(name)+"]\nusers:\n  - name: "+yamlString(name)+"\n    scram-sha-256: {iterations: 4096, salt: c2FsdHNhbHQ=, stored-key: c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ=, server-key: c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ=}\n"))
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if f.users[name] == nil || !f.IsSuperuser(name) {
			t.Errorf("%q did not round-trip", name)
		}
	}
}
