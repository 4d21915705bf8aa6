package objstore

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/sluicehq/sluice/internal/urlredact"
)

// Open returns the store a URL names (the --objects flag of sluice serve):
//
//	file:///SHARED/DIR          a directory that exists (see Dir)
//	s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&path-style=true|false]
//	     [&access-key-id=ID&secret-access-key=SECRET]
//	                            an S3-compatible bucket (see S3Config)
//
// Open does no network I/O; a probe (Probe) checks that the store answers.
func Open(rawURL string) (Store, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "file":
		return openFile(u)
	case "s3":
		cfg, err := s3ConfigFromURL(u)
		if err != nil {
			return nil, err
		}
		return NewS3(cfg)
	}
	panic("unreachable: parseURL checks the scheme")
}

// parseURL parses an object store URL and checks what every scheme shares.
func parseURL(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("object store URL is empty: want file:///DIR or s3://BUCKET?endpoint=URL")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("object store URL: %w", err)
	}
	switch u.Scheme {
	case "file", "s3":
	case "":
		return nil, fmt.Errorf("object store URL %q has no scheme: want file:///DIR or s3://BUCKET?endpoint=URL", redact(rawURL))
	default:
		return nil, fmt.Errorf("object store URL %q: unknown scheme %q: want file:///DIR or s3://BUCKET?endpoint=URL", redact(rawURL), u.Scheme)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("object store URL %q: want %s:// followed by a %s", redact(rawURL), u.Scheme, map[string]string{"file": "path (file:///DIR)", "s3": "bucket (s3://BUCKET)"}[u.Scheme])
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return nil, fmt.Errorf("object store URL %q: a fragment (#…) means nothing here", redact(rawURL))
	}
	return u, nil
}

func openFile(u *url.URL) (Store, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("object store URL %q: host %q: a file URL names a local path, file:///DIR (three slashes)", u.String(), u.Host)
	}
	if u.User != nil {
		return nil, fmt.Errorf("object store URL %q: a file URL takes no user", u.Redacted())
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, fmt.Errorf("object store URL %q: a file URL takes no parameters", u.String())
	}
	p := u.Path
	if p == "" || !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("object store URL %q: want an absolute directory, file:///DIR", u.String())
	}
	if strings.ContainsRune(p, 0) {
		return nil, fmt.Errorf("object store URL %q: the path holds a NUL byte", u.String())
	}
	return NewDir(path.Clean(p))
}

// redact hides a URL's password and secret parameters in messages.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return redactURL(u)
}

func redactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(urlredact.Hidden) // an access key, not a name
	}
	return urlredact.String(&c, "secret")
}
