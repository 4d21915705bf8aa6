package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters of HashPassword: OWASP's recommendation for argon2id
// (19 MiB of memory, two passes, one lane), a 16-byte salt and a 32-byte
// key. A check costs ~20 ms of one core and 19 MiB; the Authenticator bounds
// how many run at once and remembers the last good password of each user,
// so only the first request of a client pays it.
const (
	Argon2Memory  = 19 * 1024 // KiB
	Argon2Time    = 2
	Argon2Threads = 1
	argon2SaltLen = 16
	argon2KeyLen  = 32
)

// Bounds accepted from an auth file, so a hostile or mistyped hash cannot
// make one check take gigabytes or minutes.
const (
	maxArgon2Memory  = 1 << 20 // KiB: 1 GiB
	maxArgon2Time    = 16
	maxArgon2Threads = 16
)

// BcryptCost is the cost of HashPassword with bcrypt.
const BcryptCost = 12

// HashPassword hashes password with argon2id in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$key), or with bcrypt when
// useBcrypt is set.
func HashPassword(password string, useBcrypt bool) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	if useBcrypt {
		if len(password) > 72 {
			return "", errors.New("bcrypt uses at most 72 bytes of a password; this one is longer: use argon2id (the default)")
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
		return string(h), err
	}
	salt := make([]byte, argon2SaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, Argon2Time, Argon2Memory, Argon2Threads, argon2KeyLen)
	return formatArgon2(argon2Params{memory: Argon2Memory, time: Argon2Time, threads: Argon2Threads, salt: salt, key: key}), nil
}

// passwordHash is a parsed password hash from the auth file.
type passwordHash struct {
	argon  *argon2Params // argon2id, or
	bcrypt []byte        // a bcrypt hash
}

type argon2Params struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func formatArgon2(p argon2Params) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.memory, p.time, p.threads,
		enc.EncodeToString(p.salt), enc.EncodeToString(p.key))
}

// parsePasswordHash reads an argon2id PHC string or a bcrypt hash.
func parsePasswordHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		p, err := parseArgon2(s)
		if err != nil {
			return passwordHash{}, err
		}
		return passwordHash{argon: &p}, nil
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil {
			return passwordHash{}, fmt.Errorf("bad bcrypt hash: %v", err)
		}
		if cost > 16 {
			return passwordHash{}, fmt.Errorf("bcrypt cost %d is more than 16: every login would take seconds", cost)
		}
		return passwordHash{bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return passwordHash{}, errors.New("argon2i and argon2d hashes are not accepted: use argon2id (sluice auth hash-password)")
	case s == "":
		return passwordHash{}, errors.New("no password hash")
	}
	return passwordHash{}, errors.New("not an argon2id ($argon2id$...) or bcrypt ($2a$, $2b$, $2y$) hash; make one with sluice auth hash-password (the file holds hashes, never passwords)")
}

// parseArgon2 reads $argon2id$v=19$m=M,t=T,p=P$salt$key.
func parseArgon2(s string) (argon2Params, error) {
	var p argon2Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 {
		return p, errors.New("bad argon2id hash: want $argon2id$v=19$m=M,t=T,p=P$salt$key")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("argon2id version %q: want v=%d", parts[2], argon2.Version)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || seen[k] {
			return p, fmt.Errorf("bad argon2id parameter %q: want m=M,t=T,p=P", kv)
		}
		seen[k] = true
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return p, fmt.Errorf("argon2id p=%d: want 1 to %d", n, maxArgon2Threads)
			}
			p.threads = uint8(n)
		default:
			return p, fmt.Errorf("unknown argon2id parameter %q", kv)
		}
	}
	switch {
	case !seen["m"] || !seen["t"] || !seen["p"]:
		return p, errors.New("argon2id hash lacks one of m, t, p")
	case p.threads < 1 || p.threads > maxArgon2Threads:
		return p, fmt.Errorf("argon2id p=%d: want 1 to %d", p.threads, maxArgon2Threads)
	case p.time < 1 || p.time > maxArgon2Time:
		return p, fmt.Errorf("argon2id t=%d: want 1 to %d", p.time, maxArgon2Time)
	case p.memory < 8*uint32(p.threads) || p.memory > maxArgon2Memory:
		return p, fmt.Errorf("argon2id m=%d KiB: want %d to %d", p.memory, 8*uint32(p.threads), maxArgon2Memory)
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return p, errors.New("bad argon2id salt: want at least 8 bytes in unpadded base64")
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errors.New("bad argon2id key: want 16 to 64 bytes in unpadded base64")
	}
	return p, nil
}

// check reports whether password matches the hash, in time independent of
// where the two differ.
func (h passwordHash) check(password string) bool {
	if h.argon != nil {
		p := h.argon
		key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(key, p.key) == 1
	}
	return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(password)) == nil
}
