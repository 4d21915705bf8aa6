package protobuf

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestRandomSchemas generates valid files from a small grammar (nested
// messages, maps, groups, oneofs, enums, extensions, reserved ranges, field
// numbers out of declaration order) and checks the printing invariants on
// each: both printed forms re-parse, keep every message index, and are fixed
// points; Canonical re-parses to an equivalent descriptor. The text fuzzer
// rarely produces valid files; this covers the printer's ordering logic.
func TestRandomSchemas(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 50
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		syntax := []string{"proto2", "proto3", "editions"}[i%3]
		text := genFile(rng, syntax)
		s, err := Parse(text, nil)
		if err != nil {
			t.Fatalf("case %d: generated file does not parse: %v\n%s", i, err, text)
		}
		c, err := Parse(s.Canonical(), nil)
		if err != nil {
			t.Fatalf("case %d: Canonical does not re-parse: %v\n%s", i, err, s.Canonical())
		}
		if d := diffDescriptors(t, s, c); d != "" {
			t.Fatalf("case %d: Canonical differs in meaning:\n%s\n%s", i, d, text)
		}
		if c.Canonical() != s.Canonical() {
			t.Fatalf("case %d: Canonical not a fixed point:\n%s", i, text)
		}
		nz, err := Parse(s.Normalized(), nil)
		if err != nil {
			t.Fatalf("case %d: Normalized does not re-parse: %v\n%s", i, err, s.Normalized())
		}
		if nz.Normalized() != s.Normalized() {
			t.Fatalf("case %d: Normalized not a fixed point:\n%s", i, text)
		}
		for _, r := range []*Schema{c, nz} {
			if d := cmp.Diff(s.indexes, r.indexes); d != "" {
				t.Fatalf("case %d: message indexes changed:\n%s\n%s", i, d, text)
			}
		}
	}
}

type gen struct {
	rng    *rand.Rand
	syntax string
	b      strings.Builder
	next   int // name counter, so every name is unique
}

func genFile(rng *rand.Rand, syntax string) string {
	g := &gen{rng: rng, syntax: syntax}
	if syntax == "editions" {
		g.b.WriteString("edition = \"2023\";\n")
	} else {
		fmt.Fprintf(&g.b, "syntax = %q;\n", syntax)
	}
	g.b.WriteString("package r.v1;\n")
	var top []string
	for i := 0; i < 1+rng.IntN(3); i++ {
		top = append(top, g.message(1))
	}
	if rng.IntN(2) == 0 {
		top = append(top, g.enum())
	}
	if syntax == "proto2" && rng.IntN(2) == 0 {
		top = append(top, "message Ext { extensions 100 to 199; }\n")
		ext := g.field(100+rng.IntN(50), false)
		ext = strings.Replace(ext, "required ", "optional ", 1) // extensions cannot be required
		top = append(top, "extend Ext { "+ext+" }\n")
	}
	rng.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
	for _, d := range top {
		g.b.WriteString(d)
	}
	return g.b.String()
}

func (g *gen) name(prefix string) string {
	g.next++
	return fmt.Sprintf("%s%d", prefix, g.next)
}

func (g *gen) enum() string {
	first := 0
	if g.syntax == "proto2" {
		first = 1 // closed enums may start anywhere
	}
	return fmt.Sprintf("enum %s { %s = %d; %s = %d; }\n", g.name("E"), g.name("V"), first, g.name("V"), first+1)
}

func (g *gen) label(inOneof bool) string {
	if inOneof {
		return ""
	}
	switch g.syntax {
	case "proto2":
		return []string{"optional ", "repeated ", "required "}[g.rng.IntN(3)]
	case "proto3":
		return []string{"", "optional ", "repeated "}[g.rng.IntN(3)]
	}
	return []string{"", "repeated "}[g.rng.IntN(2)]
}

var genScalars = []string{"int32", "int64", "string", "bytes", "bool", "double", "sint32", "fixed64"}

// field returns one field declaration; group bodies only in proto2.
func (g *gen) field(num int, inOneof bool) string {
	if g.syntax == "proto2" && g.rng.IntN(5) == 0 {
		label := g.label(inOneof)
		if label == "required " {
			label = "optional "
		}
		return fmt.Sprintf("%sgroup %s = %d { optional int32 %s = 1; }\n", label, g.name("G"), num, g.name("x"))
	}
	opts := ""
	if g.rng.IntN(4) == 0 {
		opts = " [deprecated = true]"
	}
	return fmt.Sprintf("%s%s %s = %d%s;\n", g.label(inOneof), genScalars[g.rng.IntN(len(genScalars))], g.name("f"), num, opts)
}

func (g *gen) message(depth int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "message %s {\n", g.name("M"))
	nums := g.rng.Perm(60)
	take := func() int { n := nums[0] + 1; nums = nums[1:]; return n }
	var items []string
	reserved := false
	for i := 0; i < g.rng.IntN(8); i++ {
		switch k := g.rng.IntN(10); {
		case k < 4:
			items = append(items, g.field(take(), false))
		case k < 6:
			items = append(items, fmt.Sprintf("map<string, %s> %s = %d;\n", genScalars[g.rng.IntN(3)], g.name("m"), take()))
		case k < 7 && depth < 3:
			items = append(items, g.message(depth+1))
		case k < 8:
			o := fmt.Sprintf("oneof %s {\n", g.name("o"))
			for j := 0; j < 1+g.rng.IntN(3); j++ {
				o += g.field(take(), true)
			}
			items = append(items, o+"}\n")
		case k < 9:
			items = append(items, g.enum())
		case !reserved:
			reserved = true
			items = append(items, fmt.Sprintf("reserved %d, %d to %d;\n", 100+g.rng.IntN(50), 200, 210+g.rng.IntN(5)))
		}
	}
	for _, it := range items {
		b.WriteString(it)
	}
	b.WriteString("}\n")
	return b.String()
}
