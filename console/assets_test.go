package console_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAssets: every page names the style sheet and the script by a URL
// that carries a hash of their bytes, so a browser holding an older
// build's copy (they are cached for an hour) fetches the new one with the
// first page of the new build instead of styling new markup with old
// rules; the URL serves those bytes, cacheable, with their content type.
func TestAssets(t *testing.T) {
	n := startNode(t)
	page := n.do(t, http.MethodGet, "/console/", nil).Body.String()
	ref := regexp.MustCompile(`(?:href|src)="(/console/static/([a-z.]+)\?v=([0-9a-f]+))"`)
	found := map[string]bool{}
	for _, m := range ref.FindAllStringSubmatch(page, -1) {
		url, name, version := m[1], m[2], m[3]
		found[name] = true
		w := n.do(t, http.MethodGet, url, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", url, w.Code)
		}
		sum := sha256.Sum256(w.Body.Bytes())
		if want := hex.EncodeToString(sum[:6]); version != want {
			t.Errorf("%s is named version %s, its bytes hash to %s", name, version, want)
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q, want a max-age", name, cc)
		}
		ct := w.Header().Get("Content-Type")
		if want := map[string]string{"console.css": "text/css", "console.js": "text/javascript"}[name]; !strings.HasPrefix(ct, want) {
			t.Errorf("%s: Content-Type %q, want %s", name, ct, want)
		}
	}
	for _, name := range []string{"console.css", "console.js"} {
		if !found[name] {
			t.Errorf("the overview does not name %s with a versioned URL:\n%s", name, page)
		}
	}
}
