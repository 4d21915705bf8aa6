package rest

import "testing"

func TestRouteOf(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/", "GET /"},
		{"POST", "/", "POST /"},
		{"GET", "/schemas/ids/42", "GET /schemas/ids/*"},
		{"GET", "/schemas/ids/42/", "GET /schemas/ids/*"},
		{"GET", "/schemas/ids/42/schema", "GET /schemas/ids/*/schema"},
		{"POST", "/subjects/orders-value/versions", "POST /subjects/*/versions"},
		{"GET", "/subjects/a%2Fb/versions/latest", "GET /subjects/*/versions/*"},
		{"DELETE", "/subjects/orders-value/versions/3", "DELETE /subjects/*/versions/*"},
		{"GET", "/contexts/.ctx/subjects", "GET /subjects"},
		{"GET", "/contexts", "GET /contexts"},
		{"PUT", "/config/orders-value", "PUT /config/*"},
		{"POST", "/compatibility/subjects/s/versions/latest", "POST /compatibility/subjects/*/versions/*"},
		// Outside the catalogue: unknown paths, methods, extra segments.
		{"GET", "/nope", ""},
		{"PATCH", "/subjects", ""},
		{"GET", "/schemas/ids/42/schema/extra", ""},
		{"GET", "/subjects/s/versions/1/2/3/4/5", ""},
	} {
		if got := RouteOf(tc.method, tc.path); got != tc.want {
			t.Errorf("RouteOf(%s, %q) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { RouteOf("GET", "/subjects/orders-value/versions/latest") }); n != 0 {
		t.Errorf("RouteOf allocates %v times", n)
	}
}

// FuzzRouteOf: any method and path give "" or an endpoint of the
// catalogue (a bounded label), never a panic.
func FuzzRouteOf(f *testing.F) {
	for _, s := range []string{"/", "/subjects/a/versions/1", "/contexts/.x/schemas/ids/3", "//", "/contexts/", "/a%2Fb/versions"} {
		f.Add("GET", s)
	}
	known := map[string]bool{"": true}
	for _, n := range routeNames {
		known[n] = true
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		if got := RouteOf(method, path); !known[got] {
			t.Fatalf("RouteOf(%q, %q) = %q, not an endpoint of the catalogue", method, path, got)
		}
	})
}
