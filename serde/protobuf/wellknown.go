package protobuf

import (
	"context"
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// bundledFS holds our own minimal equivalents of the Confluent and
// google/type files that Confluent's registry resolves without references
// (spec/registry-api.md §7). Paths inside the FS are the import paths.
//
//go:embed wellknown
var bundledFS embed.FS

// bundledRoot is the directory of bundledFS that import paths are relative to.
const bundledRoot = "wellknown"

// bundled compiles the embedded files once, on first use; the descriptors
// are immutable and shared by every Parse.
var bundled = sync.OnceValues(compileBundled)

// BundledImports lists the import paths that resolve without a reference:
// the embedded Confluent and google/type files plus protocompile's standard
// google/protobuf files. The list is sorted and freshly allocated.
func BundledImports() []string {
	files, _ := bundled()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if isStandardImport(fd.Path()) {
			names = append(names, fd.Path())
		}
		return true
	})
	sort.Strings(names)
	return names
}

// IsBundled reports whether an import path resolves without a reference
// (see BundledImports). Serializers use it to skip registering such files
// as references, as spec/wire-format.md §7.3 describes.
func IsBundled(importPath string) bool {
	if isStandardImport(importPath) {
		return true
	}
	files, _ := bundled()
	_, ok := files[importPath]
	return ok
}

// isStandardImport reports whether p is a google/protobuf file that the
// protobuf runtime linked into this binary provides. Those always win over
// references of the same name: the compiler relies on their exact contents
// (descriptor.proto above all) to interpret options.
func isStandardImport(p string) bool {
	if !strings.HasPrefix(p, "google/protobuf/") {
		return false
	}
	_, err := protoregistry.GlobalFiles.FindFileByPath(p)
	return err == nil
}

func compileBundled() (map[string]linker.File, error) {
	sources := map[string]string{}
	err := fs.WalkDir(bundledFS, bundledRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".proto" {
			return err
		}
		b, err := bundledFS.ReadFile(p)
		if err != nil {
			return err
		}
		sources[strings.TrimPrefix(p, bundledRoot+"/")] = string(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			Accessor: protocompile.SourceAccessorFromMap(sources),
		}),
	}
	files, err := c.Compile(context.Background(), names...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]linker.File, len(files))
	for _, f := range files {
		out[f.Path()] = f
	}
	return out, nil
}
