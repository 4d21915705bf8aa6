package compat

import (
	"slices"
	"testing"
)

// The combinator rule needs a maximum matching, not a greedy one: with
// edges 0-0, 0-1, 1-0 a greedy pass pairs 0-0 and strands 1.
func TestJSONMaxMatching(t *testing.T) {
	tests := []struct {
		name  string
		n, m  int
		edges [][2]int
		size  int
	}{
		{"empty", 0, 0, nil, 0},
		{"no edges", 2, 2, nil, 0},
		{"greedy trap", 2, 2, [][2]int{{0, 0}, {0, 1}, {1, 0}}, 2},
		{"augmenting chain", 3, 3, [][2]int{{0, 0}, {1, 0}, {1, 1}, {2, 1}, {2, 2}}, 3},
		{"more left than right", 3, 1, [][2]int{{0, 0}, {1, 0}, {2, 0}}, 1},
		{"one right vertex unreachable", 2, 3, [][2]int{{0, 1}, {1, 1}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			edge := func(i, j int) bool { return slices.Contains(tc.edges, [2]int{i, j}) }
			match := jsonMaxMatching(tc.n, tc.m, edge)
			size, used := 0, map[int]bool{}
			for i, j := range match {
				if j < 0 {
					continue
				}
				if !edge(i, j) || used[j] {
					t.Fatalf("match %v uses a missing edge or a vertex twice", match)
				}
				used[j] = true
				size++
			}
			if size != tc.size {
				t.Errorf("matching %v has size %d, want %d", match, size, tc.size)
			}
		})
	}
}

// Paths are JSON pointers behind "#/", and relative paths of memoised
// probes rebase onto any prefix.
func TestJSONPaths(t *testing.T) {
	if got := jsonPath(nil); got != "#/" {
		t.Errorf("root = %q", got)
	}
	if got := jsonPath([]string{"properties", "a/b", "x~y"}); got != "#/properties/a~1b/x~0y" {
		t.Errorf("escaped = %q", got)
	}
	for _, base := range [][]string{nil, {"properties", "a"}} {
		for _, rel := range []string{"", "maxLength", "items/0/type"} {
			full := jsonRebase(base, rel)
			if got := jsonRelative(base, full); got != rel {
				t.Errorf("jsonRelative(%q, %q) = %q, want %q", base, full, got, rel)
			}
		}
	}
}
