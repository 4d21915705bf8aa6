// Package urlredact hides the secrets of a URL in messages and logs: the
// password of its user info, and query parameters that carry one (libpq's
// password=, an S3 store's secret-access-key=). The metadata database's
// URL (internal/pgmeta) and the object store's (objstore) are shown
// through it.
package urlredact

import (
	"net/url"
	"strings"
)

// Hidden is what a secret shows as.
const Hidden = "xxxxx"

// String returns u as text with the user info's password, and the value of
// every query parameter whose name holds one of words (compared in lower
// case), replaced by Hidden. Parameters that do not parse are hidden
// whole: they cannot be told from a secret.
func String(u *url.URL, words ...string) string {
	c := *u
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			c.RawQuery = "(parameters hidden: they do not parse)"
			return c.Redacted()
		}
		changed := false
		for k := range q {
			if containsAny(strings.ToLower(k), words) {
				q.Set(k, Hidden)
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.Redacted()
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
