package registry

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Contexts (spec §1.4): Sluice implements only the default context. A subject
// qualified with it (":.:orders-value") is the same subject as the bare name;
// any other context (":.staging:orders-value") is refused with
// ErrInvalidSubject rather than silently merged into the default one, where
// its ids would collide.

const defaultContextPrefix = ":.:"

// reservedSubjects may not be used as (the unqualified part of) a subject.
var reservedSubjects = map[string]bool{"__GLOBAL": true, "__EMPTY": true}

// canonicalSubject validates a subject name for a subject operation and
// returns it without a default-context qualifier.
func canonicalSubject(subject string) (string, error) {
	name, err := stripContext(subject)
	if err != nil {
		return "", err
	}
	if name == "" {
		// The empty string addresses the global level in Config and Mode, so a
		// subject named "" could not be configured on its own: refuse it.
		return "", fmt.Errorf("subject %q: %w: the subject name is empty", subject, ErrInvalidSubject)
	}
	if reservedSubjects[name] {
		return "", fmt.Errorf("subject %q: %w: %s is reserved", subject, ErrInvalidSubject, name)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("subject %q: %w: not valid UTF-8", subject, ErrInvalidSubject)
	}
	for i, c := range name {
		if unicode.IsControl(c) {
			return "", fmt.Errorf("subject %q: %w: control character %U at byte %d", subject, ErrInvalidSubject, c, i)
		}
	}
	return name, nil
}

// scopeSubject is canonicalSubject for Config and Mode, where "" and the
// context-level names (":.:" for the default context, ":.__GLOBAL:" for the
// registry-wide level) address the global level. With a single context the
// two levels coincide.
func scopeSubject(subject string) (string, error) {
	switch subject {
	case "", defaultContextPrefix, ":.__GLOBAL:":
		return "", nil
	}
	return canonicalSubject(subject)
}

// stripContext removes a context qualifier ":.<ctx>:" and refuses contexts
// other than the default one.
func stripContext(subject string) (string, error) {
	if !strings.HasPrefix(subject, ":.") {
		return subject, nil
	}
	end := strings.IndexByte(subject[2:], ':')
	if end < 0 {
		// ":.foo" without a closing colon is an ordinary (odd) subject name.
		return subject, nil
	}
	ctx, name := subject[2:2+end], subject[3+end:]
	switch ctx {
	case "":
		return name, nil
	case "__GLOBAL":
		return "", fmt.Errorf("subject %q: %w: subjects cannot live in the .__GLOBAL context", subject, ErrInvalidSubject)
	}
	return "", fmt.Errorf("subject %q: %w: context .%s is not supported; Sluice has only the default context", subject, ErrInvalidSubject, ctx)
}

// stripPrefix turns a list operation's subject prefix into a prefix of
// stored (unqualified) names. ":*:" (all contexts) and ":.:" match
// everything in the default context; ok is false for another context, which
// holds nothing.
func stripPrefix(prefix string) (p string, ok bool) {
	if rest, found := strings.CutPrefix(prefix, ":*:"); found {
		return rest, true
	}
	if !strings.HasPrefix(prefix, ":.") {
		return prefix, true
	}
	end := strings.IndexByte(prefix[2:], ':')
	if end < 0 {
		// ":.st" could be the start of a qualified name; only the default
		// context's qualifier ":.:" can match stored names, and it cannot
		// start with anything but ":.:".
		return prefix, true
	}
	if end == 0 {
		return prefix[3:], true
	}
	return "", false
}
