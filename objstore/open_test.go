package objstore_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/objstore"
)

func TestOpenFile(t *testing.T) {
	root := t.TempDir()
	s, err := objstore.Open("file://" + root)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := s.(*objstore.Dir)
	if !ok || d.Root() != root {
		t.Fatalf("Open(file://%s) = %T %v", root, s, s)
	}
	if _, err := objstore.Open("file://localhost" + root + "/"); err != nil {
		t.Fatalf("file://localhost/DIR/: %v", err)
	}
	if _, err := objstore.Probe(context.Background(), s, "test"); err != nil {
		t.Fatal(err)
	}
	if objs, _ := s.List(context.Background(), ""); len(objs) != 0 {
		t.Fatalf("Probe left %v", objs)
	}
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	for _, c := range []struct{ url, want string }{
		{"", "empty"},
		{"/data/objects", "no scheme"},
		{"gs://bucket", `unknown scheme "gs"`},
		{"file:relative/dir", "file:// followed by a path"},
		{"file://host/dir", `host "host"`},
		{"file:///" + filepath.Join(root, "missing"), "does not exist"},
		{"file://" + root + "?x=1", "no parameters"},
		{"file://" + root + "#frag", "fragment"},
		{"s3://", "no bucket"},
		{"s3:bucket", "s3:// followed by a bucket"},
		{"s3://Bucket_Name?endpoint=http://127.0.0.1:9000&access-key-id=a&secret-access-key=b", "lower-case"},
		{"s3://bucket?endpoint=ftp://h&access-key-id=a&secret-access-key=b", "want http://"},
		{"s3://bucket?endpoint=http://h/path&access-key-id=a&secret-access-key=b", "no path"},
		{"s3://bucket?endpoint=http://h&path-style=maybe&access-key-id=a&secret-access-key=b", "path-style"},
		{"s3://bucket?endpoint=http://h&colour=blue&access-key-id=a&secret-access-key=b", `unknown parameter "colour"`},
		{"s3://bucket?endpoint=http://h&endpoint=http://i&access-key-id=a&secret-access-key=b", "given 2 times"},
		{"s3://bucket?endpoint=http://h&access-key-id=a", "both"},
		{"s3://user:pw@bucket?endpoint=http://h", "not as a user"},
		{"s3://bucket/../x?endpoint=http://h&access-key-id=a&secret-access-key=b", "prefix"},
		{"s3://bucket/a//b?endpoint=http://h&access-key-id=a&secret-access-key=b", "empty segment"},
	} {
		_, err := objstore.Open(c.url)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", c.url, err, c.want)
		}
	}
}

// Secrets in a refused URL do not reach the error message.
func TestOpenErrorsHideSecrets(t *testing.T) {
	for _, u := range []string{
		"s3://bucket?endpoint=http://h&secret-access-key=TOPSECRET&colour=x",
		"s3://user:TOPSECRET@bucket?endpoint=http://h",
		"nope://user:TOPSECRET@x",
		// Parameters that do not parse are not parsed for secrets either.
		"s3://bucket?endpoint=http://h&secret-access-key=TOPSECRET%zz",
		"s3://bucket?endpoint=http://h;secret-access-key=TOPSECRET",
	} {
		_, err := objstore.Open(u)
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") {
			t.Errorf("Open(%q) = %v: want an error without the secret", u, err)
		}
	}
}

func TestProbeFailsOnAFailingStore(t *testing.T) {
	f := objstore.NewFaulty(newDir(t), 1)
	f.Set(objstore.OpGet, objstore.Fault{ErrorRate: 1})
	_, err := objstore.Probe(context.Background(), f, "n1")
	if !errors.Is(err, objstore.ErrInjected) || !strings.Contains(err.Error(), "reading back") {
		t.Fatalf("Probe with failing reads: %v", err)
	}
	if objs, _ := f.Inner().List(context.Background(), ""); len(objs) != 0 {
		t.Fatalf("a failed Probe left %v", objs)
	}
}

// FuzzOpen: any URL gives a store or an error, never a panic, and no
// error repeats a secret given in the URL.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{
		"file:///tmp", "file://localhost/tmp", "s3://bucket?endpoint=http://127.0.0.1:9000&region=r&path-style=true",
		"s3://b/pre/fix?endpoint=https://h&access-key-id=a&secret-access-key=SECRET", "s3://:@/%zz", "file:%2e%2e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		s, err := objstore.Open(u)
		if err != nil {
			// A secret given as a parameter (and found nowhere else in
			// the URL) must not appear in the message.
			if pu, perr := url.Parse(u); perr == nil {
				secret := pu.Query().Get("secret-access-key")
				if len(secret) >= 4 && strings.Count(u, secret) == 1 && strings.Contains(err.Error(), secret) {
					t.Fatalf("Open(%q): the error shows the secret: %v", u, err)
				}
			}
			return
		}
		if s == nil {
			t.Fatalf("Open(%q): nil store and nil error", u)
		}
	})
}
