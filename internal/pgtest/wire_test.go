package pgtest

import (
	"encoding/binary"
	"testing"
)

func msg(typ byte, parts ...string) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
		body = append(body, 0)
	}
	out := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(4+len(body)))
	return append(out, body...)
}

func startup() []byte {
	b := make([]byte, 8, 64)
	binary.BigEndian.PutUint32(b[4:], 196608)
	b = append(b, "user\x00x\x00\x00"...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func TestWireScanner(t *testing.T) {
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	parse := msg(msgParse, "s1", "SELECT f(1) /* mark */") // parameter count follows
	parse = append(parse[:len(parse)], 0, 0)
	binary.BigEndian.PutUint32(parse[1:], uint32(len(parse)-1))
	bind := msg(msgBind, "", "s1")
	for _, tc := range []struct {
		name   string
		chunks [][]byte
		want   []bool // per chunk
	}{
		{"simple query", [][]byte{startup(), msg(msgQuery, "SELECT 1 /* mark */")}, []bool{false, true}},
		{"simple query unmarked", [][]byte{startup(), msg(msgQuery, "SELECT 1")}, []bool{false, false}},
		{"parse alone is no call", [][]byte{startup(), parse, bind}, []bool{false, false, true}},
		{"bind of another statement", [][]byte{startup(), parse, msg(msgBind, "", "s2")}, []bool{false, false, false}},
		{"closed statement", [][]byte{startup(), parse, msg(msgClose, "Ss1"), bind}, []bool{false, false, false, false}},
		{"split across writes", [][]byte{cat(startup(), parse, bind[:3]), bind[3:]}, []bool{false, true}},
		{"one write", [][]byte{cat(startup(), parse, bind, msg('E', "", "\x00\x00\x00"), msg('S'))}, []bool{true}},
		{"ssl request: raw bytes", [][]byte{{0, 0, 0, 8, 4, 210, 22, 47}, []byte("garbage mark")}, []bool{false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w wireScanner
			for i, c := range tc.chunks {
				if got := w.feed(c, []byte("mark")); got != tc.want[i] {
					t.Fatalf("chunk %d: call %v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

func FuzzWireScanner(f *testing.F) {
	f.Add(append(startup(), msg(msgQuery, "SELECT mark")...))
	f.Add(append(startup(), append(msg(msgParse, "a", "mark"), msg(msgBind, "", "a")...)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var w wireScanner
		for len(b) > 0 {
			n := min(len(b), 7)
			w.feed(b[:n], []byte("mark"))
			b = b[n:]
		}
	})
}
