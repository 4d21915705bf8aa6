package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionReportsVCS: the module version, the revision, its time and
// whether the tree was modified come from the build information.
func TestVersionReportsVCS(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/sluicehq/sluice", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "96822d0abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-12-04T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	var b bytes.Buffer
	readVersion(bi, true).print(&b)
	for _, want := range []string{
		"sluice v0.3.0\n",
		"revision: 96822d0abcdef0123456789abcdef0123456789a (modified",
		"commit time: 2026-12-04T12:00:00Z\n",
		"go: go1.26.8 ",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}

	b.Reset()
	readVersion(nil, false).print(&b)
	if !strings.Contains(b.String(), "sluice (devel)\n") || !strings.Contains(b.String(), "revision: unknown") {
		t.Errorf("without build info:\n%s", b.String())
	}
}

// TestVersionCommand: the command prints text or one JSON document.
func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version", "--output", "json"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var v versionInfo
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil || v.Version == "" || v.Go == "" {
		t.Fatalf("json %q: %v", stdout.String(), err)
	}
	stdout.Reset()
	if code := run(context.Background(), []string{"version", "extra"}, nil, &stdout, &stderr); code != 2 {
		t.Errorf("version extra: exit %d, want 2", code)
	}
}
