package console

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"time"
)

// This file parses the embedded templates: each page is layout.html plus
// its own file, which defines "content".

func (c *Console) parseTemplates() error {
	funcs := template.FuncMap{
		"path":      path,
		"asset":     c.asset,
		"bytes":     humanBytes,
		"time":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") },
		"query":     func(s string) string { return url.QueryEscape(s) },
		"add":       func(a, b int64) int64 { return a + b },
		"sub":       func(a, b int64) int64 { return a - b },
		"join":      strings.Join,
		"ints":      joinInts,
		"highlight": highlight,
		"int64":     func(f float64) int64 { return int64(f) },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return fmt.Errorf("console: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return fmt.Errorf("console: templates: %w", err)
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n, "templates/_*.html")
		if err != nil {
			return fmt.Errorf("console: templates: %w", err)
		}
		c.pages[name] = t
	}
	return nil
}

// escapeSegment escapes s as one URL path segment ("/" becomes %2F).
func escapeSegment(s string) string { return url.PathEscape(s) }

// humanBytes words a byte count in binary units: 512 B, 1.5 KiB, 3.0 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
