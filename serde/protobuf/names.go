package protobuf

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// symbols is the set of full names (without leading dot) that a .proto
// reference could land on from the printed file: every declaration of the
// file and of its transitive imports, plus every prefix of their packages.
// It lets the canonical printer use short type names while proving that the
// compiler will resolve them back to the same declaration.
type symbols map[string]bool

func newSymbols(fd protoreflect.FileDescriptor) symbols {
	s := symbols{}
	seen := map[string]bool{}
	var addFile func(f protoreflect.FileDescriptor)
	addFile = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for pkg := string(f.Package()); pkg != ""; pkg = parentName(pkg) {
			s[pkg] = true
		}
		s.addScope(f.Messages(), f.Enums(), f.Extensions())
		for i := 0; i < f.Services().Len(); i++ {
			sd := f.Services().Get(i)
			s[string(sd.FullName())] = true
			for j := 0; j < sd.Methods().Len(); j++ {
				s[string(sd.Methods().Get(j).FullName())] = true
			}
		}
		for i := 0; i < f.Imports().Len(); i++ {
			addFile(f.Imports().Get(i).FileDescriptor)
		}
	}
	addFile(fd)
	return s
}

func (s symbols) addScope(msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors, exts protoreflect.ExtensionDescriptors) {
	for i := 0; i < msgs.Len(); i++ {
		m := msgs.Get(i)
		s[string(m.FullName())] = true
		for j := 0; j < m.Fields().Len(); j++ {
			s[string(m.Fields().Get(j).FullName())] = true
		}
		for j := 0; j < m.Oneofs().Len(); j++ {
			s[string(m.Oneofs().Get(j).FullName())] = true
		}
		s.addScope(m.Messages(), m.Enums(), m.Extensions())
	}
	for i := 0; i < enums.Len(); i++ {
		e := enums.Get(i)
		s[string(e.FullName())] = true
		// Enum values are scoped as siblings of their enum (C++ rules).
		for j := 0; j < e.Values().Len(); j++ {
			s[string(e.Values().Get(j).FullName())] = true
		}
	}
	for i := 0; i < exts.Len(); i++ {
		s[string(exts.Get(i).FullName())] = true
	}
}

// resolve mimics protoc's relative name lookup conservatively: starting at
// scope and walking outwards, the first scope in which the name's first
// component exists decides; the result is that scope joined with the name.
// protoc may skip a non-type symbol and keep walking where we stop, so a
// name we accept is one protoc accepts too, never the reverse.
func (s symbols) resolve(name, scope string) string {
	first := name
	if i := strings.IndexByte(name, '.'); i >= 0 {
		first = name[:i]
	}
	for {
		if s[joinName(scope, first)] {
			return joinName(scope, name)
		}
		if scope == "" {
			return ""
		}
		scope = parentName(scope)
	}
}

// shortest returns the shortest suffix of target that resolves to target
// from every one of scopes, or the fully qualified ".target".
func (s symbols) shortest(target protoreflect.FullName, scopes ...string) string {
	t := string(target)
	// Candidate suffixes from the last component outwards: "C", "B.C", "A.B.C".
	for i := len(t) - 1; i >= -1; i-- {
		if i >= 0 && t[i] != '.' {
			continue
		}
		cand := t[i+1:]
		if hasKeyword(cand) {
			continue // "int32" would parse as the scalar, "stream.X" as streaming
		}
		ok := true
		for _, sc := range scopes {
			if s.resolve(cand, sc) != t {
				ok = false
				break
			}
		}
		if ok {
			return cand
		}
	}
	return "." + t
}

func joinName(scope, name string) string {
	if scope == "" {
		return name
	}
	return scope + "." + name
}

func parentName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return ""
}

// hasKeyword reports whether a component of a relative name is a keyword.
// The first one could read as the keyword itself; later ones trip the
// grammar in places (protocompile refuses "rpc M(a.stream)" but accepts
// "rpc M(.a.stream)"), so any keyword sends us to the fully qualified form.
func hasKeyword(name string) bool {
	for _, c := range strings.Split(name, ".") {
		if keywords[c] {
			return true
		}
	}
	return false
}

// keywords are words that the .proto grammar may read as themselves where a
// type name stands (scalar types, labels, declaration starts); a relative
// type name must not begin with one, although a declaration may be so named.
var keywords = map[string]bool{
	"double": true, "float": true, "int32": true, "int64": true, "uint32": true, "uint64": true,
	"sint32": true, "sint64": true, "fixed32": true, "fixed64": true, "sfixed32": true,
	"sfixed64": true, "bool": true, "string": true, "bytes": true,
	"map": true, "group": true, "optional": true, "required": true, "repeated": true,
	"stream": true, "message": true, "enum": true, "oneof": true, "option": true,
	"extend": true, "extensions": true, "reserved": true, "service": true, "rpc": true,
	"returns": true, "syntax": true, "edition": true, "package": true, "import": true,
	"weak": true, "public": true, "to": true, "max": true, "inf": true, "nan": true,
}
