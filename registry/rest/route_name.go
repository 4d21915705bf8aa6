package rest

import "strings"

// routeNames are the catalogue's endpoints spelled "METHOD /path/*", by
// index in routes.
var routeNames = func() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.method + " /" + strings.Join(rt.path, "/")
	}
	return out
}()

// RouteOf returns the endpoint of the catalogue that serves method on the
// escaped URL path, spelled as the catalogue spells it ("GET
// /subjects/*/versions/*"; a /contexts/{ctx} prefix is dropped), or "" when
// no endpoint does. It is a bounded name for metrics and logs: whatever the
// path, the answer is one of a fixed set. It does not allocate.
func RouteOf(method, escapedPath string) string {
	p := strings.Trim(escapedPath, "/")
	if rest, ok := strings.CutPrefix(p, "contexts/"); ok {
		if _, after, ok := strings.Cut(rest, "/"); ok {
			p = strings.Trim(after, "/")
		}
	}
	for i := range routes {
		if routes[i].method == method && matchEscaped(routes[i].path, p) {
			return routeNames[i]
		}
	}
	return ""
}

// matchEscaped reports whether the slash-separated segments of p fit
// pattern ("*" matches any one segment).
func matchEscaped(pattern []string, p string) bool {
	for i, want := range pattern {
		seg, rest, more := strings.Cut(p, "/")
		if want != "*" && want != seg {
			return false
		}
		if i == len(pattern)-1 {
			return !more
		}
		if !more {
			return false
		}
		p = rest
	}
	return false
}
