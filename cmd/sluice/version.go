package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"time"
)

const versionUsage = `Usage: sluice version [--output json]

Prints the version of this binary: the module version, the version-control
revision it was built from (with its commit time, and "modified" when the
working tree had uncommitted changes), and the Go version and platform.
The revision is known when the binary was built with "go build" or
"go install" inside a git checkout (and GOFLAGS does not hold
-buildvcs=false); "go run" and "go test" do not record it, and the version
is then "(devel)".

Flags:
`

// version is set at link time with -ldflags "-X main.version=…"; otherwise the
// module version from the build info is used.
var version = ""

// versionInfo is what `sluice version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"revision_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// readVersion builds the report from the binary's build information (ok is
// false when the binary has none).
func readVersion(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if ok && bi != nil {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			v.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		v.Version = version
	}
	return v
}

// buildVersion is the version string alone (what other commands print).
func buildVersion() string {
	return readVersion(debug.ReadBuildInfo()).Version
}

// print writes the text form.
func (v versionInfo) print(w io.Writer) {
	fmt.Fprintf(w, "sluice %s\n", v.Version)
	if v.Revision != "" {
		mod := ""
		if v.Modified {
			mod = " (modified: built with uncommitted changes)"
		}
		fmt.Fprintf(w, "revision: %s%s\n", v.Revision, mod)
		if v.Time != "" {
			t := v.Time
			if pt, err := time.Parse(time.RFC3339, v.Time); err == nil {
				t = pt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "commit time: %s\n", t)
		}
	} else {
		fmt.Fprintln(w, "revision: unknown (not recorded: build with go build or go install in a git checkout, without -buildvcs=false)")
	}
	fmt.Fprintf(w, "go: %s %s\n", v.Go, v.Platform)
}

func runVersion(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice version", versionUsage)
	output := fs.String("output", "text", "output format: text or json")
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		fmt.Fprintf(e.stderr, "sluice version: unexpected argument %q\n", pos[0])
		return 2
	}
	v := readVersion(debug.ReadBuildInfo())
	switch *output {
	case "text":
		v.print(e.stdout)
	case "json":
		writeJSON(e.stdout, v)
	default:
		fmt.Fprintf(e.stderr, "sluice version: --output %q: want text or json\n", *output)
		return 2
	}
	return 0
}
