package console

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

var spanTag = regexp.MustCompile(`</?span[^>]*>`)

// FuzzHighlight: highlighting only adds spans; the text, unescaped, is the
// input, whatever the input (schema text and record values are untrusted).
func FuzzHighlight(f *testing.F) {
	for _, s := range []string{
		`{"type":"record","name":"A","fields":[{"name":"x","type":["null","long"],"default":null}]}`,
		"syntax = \"proto3\";\n// c\nmessage M { int32 a = 1; /* x */ repeated string b = 2 [deprecated = true]; }",
		`"unterminated`, `/* open`, `-1e-9 0x1F <script>&amp;`, "\xff\xfe", `'single'`,
	} {
		f.Add("json", s)
		f.Add("proto", s)
	}
	f.Fuzz(func(t *testing.T, lang, text string) {
		out := string(highlight(lang, text))
		// html/template's escaper writes NUL as U+FFFD.
		want := strings.ReplaceAll(text, "\x00", "\uFFFD")
		if got := html.UnescapeString(spanTag.ReplaceAllString(out, "")); got != want && validUTF8(text) {
			t.Fatalf("highlight(%q, %q) = %q: the text changed", lang, text, out)
		}
		if regexp.MustCompile(`<[^s/]|</[^s]`).MatchString(out) {
			t.Fatalf("highlight(%q, %q) = %q: a tag that is not a span", lang, text, out)
		}
	})
}

func validUTF8(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' {
			return false
		}
	}
	return true
}

func TestHighlight(t *testing.T) {
	for _, tc := range []struct{ lang, in, want string }{
		{"json", `{"a": 1, "b": [true, null, "x"]}`, `{<span class="hl-k">&#34;a&#34;</span>: <span class="hl-n">1</span>, <span class="hl-k">&#34;b&#34;</span>: [<span class="hl-l">true</span>, <span class="hl-l">null</span>, <span class="hl-s">&#34;x&#34;</span>]}`},
		{"proto", "message M { // m\n  int32 a = 1;\n}", `<span class="hl-w">message</span> M { <span class="hl-c">// m</span>` + "\n  int32 a = <span class=\"hl-n\">1</span>;\n}"},
		{"json", `"<b>"`, `<span class="hl-s">&#34;&lt;b&gt;&#34;</span>`},
	} {
		if got := string(highlight(tc.lang, tc.in)); got != tc.want {
			t.Errorf("highlight(%q, %q)\n got %s\nwant %s", tc.lang, tc.in, got, tc.want)
		}
	}
}
