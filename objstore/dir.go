package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Dir is a Store in a directory, local or on a filesystem shared by several
// nodes (NFS, a cluster filesystem): object key "a/b/c" is the file
// DIR/a/b/c. Several processes may use one directory at once.
//
// Put writes a temporary file beside the target (named ".tmp-…", which no
// key can name), fsyncs it, renames it over the target and fsyncs the
// directory, so a reader sees the old file or the whole new one, and a
// returned Put survives a crash of the machine. A large object is flushed
// to disk as it is written (dir_flush.go), at the pace of WithWritePace when
// its context has one. Directories are made on demand and removed by Delete
// when it empties them. A process killed during Put may leave a ".tmp-…"
// file behind: List ignores it.
type Dir struct {
	root string
}

// NewDir returns the store in directory root, which must exist.
func NewDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("object store directory %q: %w", root, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("object store directory %q does not exist; create it first (on the shared filesystem every node mounts)", abs)
		}
		return nil, fmt.Errorf("object store directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("object store directory %q is not a directory", abs)
	}
	return &Dir{root: abs}, nil
}

// Root returns the store's directory.
func (d *Dir) Root() string { return d.root }

// String returns the store's URL.
func (d *Dir) String() string { return "file://" + filepath.ToSlash(d.root) }

func (d *Dir) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	target := d.path(key)
	dir := filepath.Dir(target)
	// A concurrent Delete (in this process or another) may remove an
	// emptied directory of the path between our mkdir of it and the
	// next step: make it again. Once the temporary file is in it, the
	// directory is not empty and stays.
	var f *os.File
	var err error
	for attempt := 0; ; attempt++ {
		if err = d.mkdirs(dir); err == nil {
			if f, err = os.CreateTemp(dir, ".tmp-"); err == nil {
				break
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 100 {
			return fmt.Errorf("put %q: %w", key, err)
		}
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := writeFlushed(f, data, writePace(ctx)); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("put %q: a directory of keys under %q exists; a key cannot be both an object and a prefix of others in a directory store", key, key+"/")
		}
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// mkdirs makes dir and its missing parents under the root, and fsyncs the
// parent of each directory it made so that the new entries are durable.
func (d *Dir) mkdirs(dir string) error {
	if dir == d.root {
		return nil
	}
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%q is an object, so it cannot also be a prefix of keys in a directory store", strings.TrimPrefix(filepath.ToSlash(strings.TrimPrefix(dir, d.root)), "/"))
		}
		return nil
	}
	if err := d.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made concurrently by another writer; it synced the parent
		}
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// GetRange implements Store.
func (d *Dir) GetRange(ctx context.Context, key string, off, n int64) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, &NotFoundError{Key: key}
		}
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	if st.IsDir() {
		return nil, &NotFoundError{Key: key}
	}
	n, err = checkRange(key, off, n, st.Size())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !(errors.Is(err, io.EOF) && int64(got) == n) {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	return buf, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.path(key)
	st, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if st.IsDir() {
		return nil // a prefix of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	// Remove the directories this emptied (best effort: rmdir fails on a
	// directory a concurrent Put has just written into, which is right).
	for dir != d.root {
		if os.Remove(dir) != nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := CheckPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk from the deepest directory the prefix names whole.
	start := d.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = d.path(prefix[:i])
	}
	var out []Object
	err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil // removed while we walk (or never there)
			}
			return err
		}
		if p == start {
			if !e.IsDir() {
				return nil // the prefix's directory part is an object
			}
			return ctx.Err()
		}
		if strings.HasPrefix(e.Name(), ".") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil // a temporary file of a Put
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			// Skip directories that cannot hold a match.
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, Object{Key: key, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	sortObjects(out)
	return out, nil
}
