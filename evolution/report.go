package evolution

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report is the answer of a check.
type Report struct {
	// Baseline names what the schemas were checked against.
	Baseline string
	// Subjects is how many subjects were checked; New how many of them the
	// baseline lacks (and so pass).
	Subjects, New int
	// Findings are the violations, subject by subject in dependency order.
	Findings []Finding
	// RuleChanges are the changes of the rule sets the input declares
	// against the baseline's (rules_diff.go); they do not fail the check.
	RuleChanges []RuleChange
}

// Compatible reports whether the check found no violation.
func (r *Report) Compatible() bool { return len(r.Findings) == 0 }

// Report formats for Write.
const (
	// FormatText is one line per violation (file:line:col, subject, level,
	// direction, path, message, kind) with the old and new values below,
	// then a summary line.
	FormatText = "text"
	// FormatJSON is one document: compatible, baseline, subjects,
	// new_subjects and violations (Findings).
	FormatJSON = "json"
	// FormatGitHub is GitHub Actions workflow commands: an ::error
	// annotation per violation at its file and line, or one ::notice.
	FormatGitHub = "github"
)

// Write prints the report in format (FormatText, FormatJSON or
// FormatGitHub; anything else is text).
func (r *Report) Write(w io.Writer, format string) error {
	findings := r.Findings
	switch format {
	case FormatJSON:
		return writeJSON(w, map[string]any{"compatible": len(findings) == 0, "baseline": r.Baseline, "subjects": r.Subjects, "new_subjects": r.New, "violations": nonNil(findings), "rule_changes": nonNil(r.RuleChanges)})
	case FormatGitHub:
		for _, fd := range findings {
			title := fd.Kind
			msg := fmt.Sprintf("%s (%s, %s) at %s: %s", fd.Subject, fd.Level, fd.Direction, fd.Path, fd.Message)
			if fd.Path == "" {
				msg = fmt.Sprintf("%s (%s): %s", fd.Subject, fd.Level, fd.Message)
			}
			if fd.Old != "" || fd.New != "" {
				msg += fmt.Sprintf(" (old %s, new %s)", orAbsent(fd.Old), orAbsent(fd.New))
			}
			fmt.Fprintf(w, "::error file=%s,line=%d,col=%d,title=%s::%s\n", ghProperty(fd.File), max(fd.Line, 1), max(fd.Col, 1), ghProperty(title), ghData(msg))
		}
		for _, rc := range r.RuleChanges {
			fmt.Fprintf(w, "::warning file=%s,line=%d,title=%s::%s\n", ghProperty(rc.File), max(rc.Line, 1), ghProperty("rule "+rc.Change.Change), ghData(rc.text()))
		}
		if len(findings) == 0 {
			fmt.Fprintf(w, "::notice title=sluice schema check::%s compatible with %s\n", plural(r.Subjects, "subject"), ghData(r.Baseline))
		}
	default:
		for _, fd := range findings {
			pos := fd.File
			if fd.Line > 0 {
				pos = fmt.Sprintf("%s:%d:%d", fd.File, fd.Line, fd.Col)
			}
			var against []string
			for _, x := range []string{fd.Level, fd.Direction} {
				if x != "" {
					against = append(against, x)
				}
			}
			if fd.Version > 0 {
				against = append(against, fmt.Sprintf("version %d", fd.Version))
			}
			what := fd.Message
			if fd.Path != "" {
				what = fd.Path + ": " + what
			}
			subject := fd.Subject
			if len(against) > 0 {
				subject += " (" + strings.Join(against, ", ") + ")"
			}
			line := fmt.Sprintf("%s: %s: %s [%s]", pos, subject, what, fd.Kind)
			if fd.Old != "" || fd.New != "" {
				line += fmt.Sprintf("\n    old: %s\n    new: %s", orAbsent(fd.Old), orAbsent(fd.New))
			}
			fmt.Fprintln(w, line)
		}
		for _, rc := range r.RuleChanges {
			pos := rc.File
			if rc.Line > 0 {
				pos = fmt.Sprintf("%s:%d", rc.File, rc.Line)
			}
			if pos != "" {
				pos += ": "
			}
			fmt.Fprintf(w, "%s%s\n", pos, rc.text())
			if rc.Old != "" || rc.New != "" {
				fmt.Fprintf(w, "    old: %s\n    new: %s\n", orAbsent(rc.Old), orAbsent(rc.New))
			}
		}
		newNote := ""
		if r.New > 0 {
			newNote = fmt.Sprintf(" (%d new)", r.New)
		}
		if n := len(r.RuleChanges); n > 0 {
			newNote += fmt.Sprintf("; %s", plural(n, "rule change"))
		}
		if len(findings) == 0 {
			fmt.Fprintf(w, "%s compatible with %s%s\n", plural(r.Subjects, "subject"), r.Baseline, newNote)
		} else {
			fmt.Fprintf(w, "%s\n", plural(len(findings), "incompatible change"))
		}
	}
	return nil
}

func orAbsent(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

// ghData escapes the message of a workflow command.
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// ghProperty escapes a property value of a workflow command.
func ghProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nonNil makes a nil slice an empty one, so that JSON shows [] not null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// plural counts n of noun: "1 subject", "2 subjects".
func plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// text is the rule change on one line: subject, version, what changed and
// what it means on produce.
func (rc *RuleChange) text() string {
	against := ""
	if rc.Version > 0 {
		against = fmt.Sprintf(" (against version %d)", rc.Version)
	}
	msg := fmt.Sprintf("%s%s: rule %s %s", rc.Subject, against, rc.Change.Change, rc.Path)
	if rc.Message != "" {
		msg += ": " + rc.Message
	}
	return msg
}
