package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README and docs/ show sluice command lines that users copy. This
// test keeps them runnable as written: every such line's command exists
// and every flag it gives is one the command takes (each line is run with
// --help appended, which parses the flags given and then prints the help
// instead of running the command).

// docCommandPrefix matches the ways the docs invoke the binary.
var docCommandPrefix = regexp.MustCompile(`^(\./sluice|sluice|go run (\./|\.\./\.\./)cmd/sluice)$`)

// docCommands returns the sluice command lines of the ```sh blocks of a
// Markdown file, each as its arguments after the binary, with the line
// number where it starts.
func docCommands(t *testing.T, text string) (cmds [][]string, lines []int) {
	t.Helper()
	inSh := false
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "```"):
			inSh = trim == "```sh"
			continue
		case !inSh:
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		words, err := shellWords(cur.String())
		cur.Reset()
		if err != nil {
			t.Errorf("line %d: %v", start, err)
			continue
		}
		// Pipelines, lists and background jobs: each part on its own.
		var part []string
		flush := func() {
			if args, ok := sluiceArgs(part); ok {
				cmds = append(cmds, args)
				lines = append(lines, start)
			}
			part = nil
		}
		for _, w := range words {
			if w == "|" || w == "&&" || w == ";" || w == "&" {
				flush()
				continue
			}
			part = append(part, w)
		}
		flush()
	}
	return cmds, lines
}

// sluiceArgs returns the arguments of a sluice invocation.
func sluiceArgs(words []string) ([]string, bool) {
	for n := 1; n <= 3 && n <= len(words); n++ {
		if docCommandPrefix.MatchString(strings.Join(words[:n], " ")) {
			return words[n:], len(words) > n
		}
	}
	return nil, false
}

// shellWords splits a command line as a POSIX shell would for the simple
// lines the docs hold: single and double quotes, backslash escapes, and
// comments from an unquoted #.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errUnterminated
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errUnterminated
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == '#' && !inWord:
			i = len(s)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

var errUnterminated = &shellError{"unterminated quote"}

type shellError struct{ msg string }

func (e *shellError) Error() string { return e.msg }

func TestShellWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{`./sluice produce clicks --key user-1 '{"page":"/"}'  # a comment`, []string{"./sluice", "produce", "clicks", "--key", "user-1", `{"page":"/"}`}},
		{`printf 'a\nb\n' | ./sluice produce clicks`, []string{"printf", `a\nb\n`, "|", "./sluice", "produce", "clicks"}},
		{`curl -d "{\"a\": 1}" x#y`, []string{"curl", "-d", `{"a": 1}`, "x#y"}},
	} {
		got, err := shellWords(c.in)
		if err != nil || strings.Join(got, "\x00") != strings.Join(c.want, "\x00") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestDocCommandsParse runs every sluice command line of README.md and
// docs/*.md with --help appended: the command and its flags must exist.
func TestDocCommandsParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join("..", "..", "README.md")}, files...)
	total := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cmds, lines := docCommands(t, string(text))
		for i, args := range cmds {
			total++
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append(append([]string{}, args...), "--help"), strings.NewReader(""), &stdout, &stderr)
			if code != 0 {
				t.Errorf("%s:%d: sluice %s: exit %d (a flag or command that does not exist?):\n%s",
					filepath.Base(file), lines[i], strings.Join(args, " "), code, firstLines(stderr.String(), 3))
			}
		}
	}
	if total < 15 {
		t.Errorf("found only %d sluice command lines in the docs; is the parser broken?", total)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
