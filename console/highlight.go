package console

import (
	"html/template"
	"strings"
)

// This file highlights schema text and JSON on the server: a small scanner
// splits the text into strings, numbers, literals, keywords and comments,
// and each becomes an escaped span with a class; the style sheet colours
// them. No script, and nothing the browser must parse.

// protoWords are the Protobuf keywords highlighted.
var protoWords = map[string]bool{
	"syntax": true, "edition": true, "package": true, "import": true, "option": true, "message": true,
	"enum": true, "service": true, "rpc": true, "returns": true, "stream": true, "oneof": true,
	"map": true, "repeated": true, "optional": true, "required": true, "reserved": true,
	"extend": true, "extensions": true, "to": true, "max": true, "public": true, "weak": true,
}

// highlight returns text as HTML with spans: lang "json" (Avro and JSON
// Schema texts, JSON values) or "proto".
func highlight(lang, text string) template.HTML {
	var b strings.Builder
	span := func(class, s string) {
		if class == "" {
			b.WriteString(template.HTMLEscapeString(s))
			return
		}
		b.WriteString(`<span class="hl-`)
		b.WriteString(class)
		b.WriteString(`">`)
		b.WriteString(template.HTMLEscapeString(s))
		b.WriteString(`</span>`)
	}
	i := 0
	for i < len(text) {
		ch := text[i]
		switch {
		case ch == '"' || (lang == "proto" && ch == '\''):
			j := i + 1
			for j < len(text) && text[j] != ch {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(text))
			class := "s"
			if lang == "json" {
				// A string followed by a colon is an object key.
				k := j
				for k < len(text) && (text[k] == ' ' || text[k] == '\t' || text[k] == '\n' || text[k] == '\r') {
					k++
				}
				if k < len(text) && text[k] == ':' {
					class = "k"
				}
			}
			span(class, text[i:j])
			i = j
		case lang == "proto" && strings.HasPrefix(text[i:], "//"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			span("c", text[i:i+j])
			i += j
		case lang == "proto" && strings.HasPrefix(text[i:], "/*"):
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				j = len(text) - i
			} else {
				j += 4
			}
			span("c", text[i:i+j])
			i += j
		case ch == '-' || (ch >= '0' && ch <= '9'):
			j := i + 1
			for j < len(text) && strings.IndexByte("0123456789.eE+-xXabcdefABCDEF", text[j]) >= 0 && !(lang == "json" && isHexLetter(text[j])) {
				j++
			}
			span("n", text[i:j])
			i = j
		case isWordStart(ch):
			j := i + 1
			for j < len(text) && (isWordStart(text[j]) || (text[j] >= '0' && text[j] <= '9') || text[j] == '.') {
				j++
			}
			w := text[i:j]
			class := ""
			switch {
			case lang == "json" && (w == "true" || w == "false" || w == "null"):
				class = "l"
			case lang == "proto" && protoWords[w]:
				class = "w"
			case lang == "proto" && (w == "true" || w == "false"):
				class = "l"
			}
			span(class, w)
			i = j
		default:
			j := i + 1
			for j < len(text) && !startsToken(lang, text, j) {
				j++
			}
			span("", text[i:j])
			i = j
		}
	}
	return template.HTML(b.String())
}

func isHexLetter(c byte) bool {
	return (c >= 'a' && c <= 'f' && c != 'e') || (c >= 'A' && c <= 'F' && c != 'E') || c == 'x' || c == 'X'
}

func isWordStart(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func startsToken(lang, text string, j int) bool {
	c := text[j]
	if c == '"' || c == '-' || (c >= '0' && c <= '9') || isWordStart(c) {
		return true
	}
	if lang == "proto" && (c == '\'' || (c == '/' && j+1 < len(text) && (text[j+1] == '/' || text[j+1] == '*'))) {
		return true
	}
	return false
}
