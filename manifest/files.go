package manifest

import (
	"fmt"
	"path"

	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
)

// FromFiles builds a manifest without a sluice.yaml, for explicit schema
// files: each file is registered under its SchemaFile.Subject. dir is the
// folder, inside the file system Resolve will read, that the files' paths
// are relative to (it plays the manifest's folder: Protobuf imports are
// looked up there first). level is every subject's level ("" leaves it to
// the registry). Resolve then infers references between the files (Avro
// named types in sibling files, Protobuf imports, JSON $refs) as it does for
// a manifest, and lists referenced files as subjects of their own, first.
func FromFiles(dir string, files []SchemaFile, level compat.Level) (*Manifest, error) {
	m := &Manifest{File: path.Join(dir, DefaultFile), Strategy: serde.TopicName, Compatibility: level}
	seen := map[string]bool{}
	for i, f := range files {
		if f.Subject == "" {
			return nil, fmt.Errorf("schema file %s: no subject", f.File)
		}
		if seen[f.Subject] {
			return nil, fmt.Errorf("subject %q is given twice", f.Subject)
		}
		seen[f.Subject] = true
		if _, err := FormatOf(f.File); err != nil {
			return nil, err
		}
		f.File = path.Clean(f.File)
		if f.Pos.File == "" {
			f.Pos = Pos{File: f.File}
		}
		files[i] = f
		m.Schemas = append(m.Schemas, f)
	}
	if len(m.Schemas) == 0 {
		return nil, fmt.Errorf("no schema files")
	}
	return m, nil
}

// OffsetPos converts a byte offset in text into a 1-based line and column
// (in characters), as LocatePointer reports them.
func OffsetPos(text []byte, off int) (line, col int) {
	return position(text, max(0, min(off, len(text))))
}
