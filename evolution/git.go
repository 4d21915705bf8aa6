package evolution

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing/fstest"
)

// GitFS reads the tree of ref for the folder dir (a folder inside a
// git work tree) into memory with `git archive`, so `--against git:main`
// needs no checkout and no server. The returned file system has dir's
// contents at its root, as os.DirFS(dir) would.
func GitFS(dir, ref string) (fstest.MapFS, error) {
	if ref == "" {
		return nil, errors.New("--against git:REF needs a ref, e.g. git:main")
	}
	pb, err := gitOutput(dir, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSpace(string(pb))
	// REF:PREFIX is the tree of dir at ref, so the archive's paths are
	// relative to dir wherever in the repository it is.
	top, err := gitOutput(dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	data, err := gitOutput(strings.TrimSpace(string(top)), "archive", "--format=tar", ref+":"+prefix)
	if err != nil {
		return nil, err
	}
	out := fstest.MapFS{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading git archive of %s: %w", ref, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: b, Mode: 0o644}
	}
	return out, nil
}

// gitOutput runs git in dir and returns its standard output; a failure
// carries git's own message.
func gitOutput(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errors.New("git is not installed: --against git:REF needs it")
		}
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// baselineDir resolves dir to an absolute folder for git.
func baselineDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}
