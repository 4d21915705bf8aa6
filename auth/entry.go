package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// UserEntry returns an auth file entry (a YAML list item to put under
// users:) for name with password: its argon2id hash (bcrypt when useBcrypt)
// and its SCRAM-SHA-256 and SCRAM-SHA-512 credentials, which SASL SCRAM
// logins need since they cannot be derived from the hash. The password
// itself appears nowhere in it.
func UserEntry(name, password string, useBcrypt bool) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("user name: %v", err)
	}
	if strings.Contains(name, ":") {
		return "", fmt.Errorf("user name %q: a colon cannot be sent in HTTP basic auth", name)
	}
	h, err := HashPassword(password, useBcrypt)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "- name: %s\n  password: %s\n", yamlString(name), yamlString(h))
	for _, mech := range []string{SCRAMSHA256, SCRAMSHA512} {
		c, err := NewSCRAMCredential(mech, password, DefaultSCRAMIterations)
		if err != nil {
			return "", err
		}
		enc := base64.StdEncoding
		fmt.Fprintf(&b, "  %s: {iterations: %d, salt: %q, stored-key: %q, server-key: %q}\n",
			strings.ToLower(mech), c.Iterations, enc.EncodeToString(c.Salt), enc.EncodeToString(c.StoredKey), enc.EncodeToString(c.ServerKey))
	}
	return b.String(), nil
}

// TokenPrefix starts every token NewToken makes, so that secret scanners
// and people can recognise one.
const TokenPrefix = "sluice_"

// NewToken makes a random API token for principal and returns it with its
// auth file entry (a YAML list item to put under tokens:), which holds
// only the token's SHA-256.
func NewToken(principal, description string) (token, entry string, err error) {
	if err := checkName(principal); err != nil {
		return "", "", fmt.Errorf("principal: %v", err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	entry = fmt.Sprintf("- principal: %s\n  sha256: %s\n", yamlString(principal), hex.EncodeToString(sum[:]))
	if description != "" {
		entry += fmt.Sprintf("  description: %s\n", yamlString(description))
	}
	return token, entry, nil
}

// yamlString is s as a YAML scalar: bare when it is a plain word (a
// letter, then letters, digits, '.', '_', '@' or '-', and not a word YAML
// reads as a boolean or null), else double-quoted (a JSON string is a YAML
// string).
func yamlString(s string) string {
	plain := s != "" && !isYAMLKeyword(s)
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '.' || r == '@' || r == '-')) {
			plain = false
		}
	}
	if plain {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// isYAMLKeyword reports words YAML reads as booleans or null.
func isYAMLKeyword(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return true
	}
	return false
}
