package jsonstr

import (
	"encoding/json"
	"testing"
)

func TestAppend(t *testing.T) {
	for _, c := range []struct {
		name, in, want, wantShort string
	}{
		{"plain", "abc", `"abc"`, `"abc"`},
		{"empty", "", `""`, `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"short escapes", "\n\r\t", `"\n\r\t"`, `"\n\r\t"`},
		{"backspace and form feed", "\b\f", `"\u0008\u000c"`, `"\b\f"`},
		{"other controls", "\x00\x1f", `"\u0000\u001f"`, `"\u0000\u001f"`},
		{"html and separators stay", "<a&b>\u2028\u2029", "\"<a&b>\u2028\u2029\"", "\"<a&b>\u2028\u2029\""},
		{"non-ASCII", "héllo, 世界 🙂", `"héllo, 世界 🙂"`, `"héllo, 世界 🙂"`},
		{"invalid bytes one by one", "a\xff\xfeb", `"a\ufffd\ufffdb"`, `"a\ufffd\ufffdb"`},
		{"cut rune", "x\xe4\xb8", `"x\ufffd\ufffd"`, `"x\ufffd\ufffd"`},
		{"DEL stays", "\x7f", "\"\x7f\"", "\"\x7f\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := string(Append([]byte("x"), c.in)); got != "x"+c.want {
				t.Errorf("Append(%q) = %s, want %s", c.in, got[1:], c.want)
			}
			if got := string(AppendShort(nil, c.in)); got != c.wantShort {
				t.Errorf("AppendShort(%q) = %s, want %s", c.in, got, c.wantShort)
			}
		})
	}
}

// FuzzAppend: both forms read back, through encoding/json, as the string
// encoding/json itself writes (invalid bytes replaced one by one).
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "abc", "a\"\\\n\b\f\x00", "\xff\xe4\xb8", "世界\u2028<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var ws string
		if err := json.Unmarshal(want, &ws); err != nil {
			t.Fatal(err)
		}
		for _, b := range [][]byte{Append(nil, s), AppendShort(nil, s)} {
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%q: %s is not a JSON string: %v", s, b, err)
			}
			if got != ws {
				t.Fatalf("%q: %s reads back as %q, want %q", s, b, got, ws)
			}
		}
	})
}
