package urlredact

import (
	"net/url"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		url   string
		words []string
		want  string
	}{
		{"postgres://u:TOPSECRET@h/db", []string{"password"}, "postgres://u:xxxxx@h/db"},
		{"postgres://u@h/db?sslmode=disable&password=TOPSECRET", []string{"password"}, "postgres://u@h/db?password=xxxxx&sslmode=disable"},
		{"postgres://u@h/db?SSLPassword=TOPSECRET", []string{"password"}, "postgres://u@h/db?SSLPassword=xxxxx"},
		{"s3://b?endpoint=http://h&secret-access-key=TOPSECRET", []string{"secret"}, "s3://b?endpoint=http%3A%2F%2Fh&secret-access-key=xxxxx"},
		{"s3://b?endpoint=http://h", []string{"secret"}, "s3://b?endpoint=http://h"},
		{"s3://b?secret-access-key=TOPSECRET%zz", []string{"secret"}, "s3://b?(parameters hidden: they do not parse)"},
		{"s3://b?x=1;secret-access-key=TOPSECRET", []string{"secret"}, "s3://b?(parameters hidden: they do not parse)"},
		{"postgres://u@h/db?password=TOPSECRET", nil, "postgres://u@h/db?password=TOPSECRET"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		got := String(u, tc.words...)
		if got != tc.want {
			t.Errorf("String(%q, %q) = %q, want %q", tc.url, tc.words, got, tc.want)
		}
		if tc.words != nil && strings.Contains(got, "TOPSECRET") {
			t.Errorf("String(%q) shows the secret", tc.url)
		}
		if u.String() != tc.url && !strings.Contains(tc.url, ";") {
			t.Errorf("String changed its argument: %q", u)
		}
	}
}
