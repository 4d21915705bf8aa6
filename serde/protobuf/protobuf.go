package protobuf

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluicehq/sluice/serde"
)

// Schema is a parsed, validated Protobuf schema: one .proto file linked
// against its references. It is immutable and safe for concurrent use.
type Schema struct {
	file       protoreflect.FileDescriptor
	canonical  string
	normalized string
	deps       []string
	// indexes maps every message of the file (nested ones and synthetic map
	// entries included) to its message-index path, computed once.
	indexes map[protoreflect.FullName][]int

	// plansV are the validation plans of ValidateMessage, compiled once by
	// plans() on first use.
	plansOnce sync.Once
	plansV    *validator
}

var _ serde.Schema = (*Schema)(nil)

// maxErrors bounds how many problems one ParseError list carries, so that a
// hostile text cannot make the error message itself huge.
const maxErrors = 50

// Parse parses and validates a .proto file. refs are the files it imports,
// directly or transitively, under their import paths (dependencies first, as
// serde.Referenced says); an import resolves only through refs, except the
// bundled files listed by BundledImports. A reference named like a bundled
// file replaces it, except for the google/protobuf files, which always come
// from the protobuf runtime (the compiler depends on their exact contents).
//
// text may also be the base64 encoding of a serialized
// google.protobuf.FileDescriptorProto, as Confluent accepts; it is converted
// to .proto text (its Canonical form), which is then parsed like any text.
//
// Every problem the compiler finds is reported, as one *ParseError or
// several joined with errors.Join, each naming its file, line and column:
// syntax errors, unknown syntax or edition, labels that the syntax forbids,
// duplicate names or field numbers, unresolvable types and missing imports.
func Parse(text string, refs []serde.Referenced) (s *Schema, err error) {
	defer func() {
		// The compiler and our printer are run on untrusted input; a bug in
		// either must surface as an error, not crash the registry.
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("%w: parse panicked: %v", errInternal, p)
		}
	}()
	if strings.TrimSpace(text) == "" {
		return nil, &ParseError{Reason: "schema text is empty"}
	}
	sources := make(map[string]string, len(refs))
	for i, r := range refs {
		switch {
		case r.Name == "":
			return nil, &ParseError{Reason: fmt.Sprintf("reference %d has an empty name", i)}
		case hasKey(sources, r.Name):
			return nil, &ParseError{Reason: fmt.Sprintf("reference %q is listed twice", r.Name)}
		}
		sources[r.Name] = r.Text
	}
	main := mainFileName(sources)

	if fdp, ok, err := decodeBinary(text); err != nil {
		return nil, err
	} else if ok {
		var weak []string
		for _, i := range fdp.WeakDependency {
			if i >= 0 && int(i) < len(fdp.Dependency) {
				weak = append(weak, fdp.Dependency[i])
			}
		}
		fd, err := linkBinary(main, fdp, sources)
		if err != nil {
			return nil, err
		}
		// From here on binary input is text input: the converted text is
		// validated like any other, and is what the registry stores.
		text, _ = render(fd, weak...)
	}

	files, err := compile(compileInput{main: main, text: text}, sources)
	if err != nil {
		return nil, err
	}
	res := files[0]
	s = &Schema{file: res, indexes: map[protoreflect.FullName][]int{}}
	s.canonical, s.normalized = render(res)
	imports := res.Imports()
	for i := 0; i < imports.Len(); i++ {
		s.deps = append(s.deps, imports.Get(i).Path())
	}
	indexMessages(s.indexes, res.Messages(), nil)
	return s, nil
}

// linkBinary turns a decoded FileDescriptorProto into a descriptor. Its
// dependencies are compiled from refs and the bundled files; the descriptor
// itself goes through protodesc, which validates untrusted descriptors
// thoroughly (protocompile trusts descriptor protos and can panic on
// malformed ones).
func linkBinary(main string, fdp *descriptorpb.FileDescriptorProto, refs map[string]string) (protoreflect.FileDescriptor, error) {
	fdp.Name = proto.String(main)
	fdp.SourceCodeInfo = nil // positions into a text we never see
	files := &protoregistry.Files{}
	if len(fdp.Dependency) > 0 {
		deps, err := compile(compileInput{imports: fdp.Dependency}, refs)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			registerAll(files, d)
		}
	}
	fd, err := protodesc.NewFile(fdp, files)
	if err != nil {
		// protodesc's text is unstable by design (it varies a space), so
		// normalise it before it reaches users and golden files.
		return nil, &ParseError{Reason: "malformed FileDescriptorProto: " + stableText(err.Error())}
	}
	return fd, nil
}

// registerAll registers fd and its transitive imports, ignoring files
// already registered.
func registerAll(files *protoregistry.Files, fd protoreflect.FileDescriptor) {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return
	}
	for i := 0; i < fd.Imports().Len(); i++ {
		registerAll(files, fd.Imports().Get(i).FileDescriptor)
	}
	// A conflict can only come from references that clash with each other;
	// the text parse that follows reports it properly.
	_ = files.RegisterFile(fd)
}

// stableText replaces the non-breaking spaces that the protobuf runtime
// randomly puts in its error messages with plain ones.
func stableText(s string) string {
	return strings.ReplaceAll(s, "\u00a0", " ")
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// mainFileName picks the path the schema text is compiled under: one that
// no reference uses, so that an import can never resolve to the file itself.
// It shows in File().Path().
func mainFileName(refs map[string]string) string {
	name := "schema.proto"
	for i := 1; hasKey(refs, name); i++ {
		name = fmt.Sprintf("schema_%d.proto", i)
	}
	return name
}

// decodeBinary recognises Confluent's alternative input, a base64-encoded
// FileDescriptorProto. A .proto text that declares anything contains a
// character outside the base64 alphabet (space, ';', '{', '"'), so text made
// only of base64 characters that decodes is taken to be binary; ok is false
// for everything else, which is then parsed as text.
func decodeBinary(text string) (fdp *descriptorpb.FileDescriptorProto, ok bool, err error) {
	t := strings.TrimSpace(text)
	t = strings.NewReplacer("\n", "", "\r", "").Replace(t)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, false, nil
		}
	}
	b, err := base64.StdEncoding.DecodeString(t)
	if err != nil {
		return nil, false, nil
	}
	fdp = &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, fdp); err != nil {
		// The runtime's error text is deliberately unstable; ours is not.
		return nil, false, &ParseError{Reason: "schema is base64 but not a serialized FileDescriptorProto (invalid wire-format data)"}
	}
	return fdp, true, nil
}

// compileInput is what to compile: the schema text under the name main,
// or (for binary input) just the files a descriptor imports.
type compileInput struct {
	main    string
	text    string
	imports []string
}

// compile compiles the input against refs and the bundled files, collecting
// every error the compiler reports. With a main text it returns one linked
// result, the main file; otherwise one file per import.
func compile(in compileInput, refs map[string]string) ([]linker.File, error) {
	wk, err := bundled()
	if err != nil {
		return nil, fmt.Errorf("%w: bundled well-known files do not compile: %v", errInternal, err)
	}
	resolver := protocompile.ResolverFunc(func(p string) (protocompile.SearchResult, error) {
		switch {
		case in.main != "" && p == in.main:
			return protocompile.SearchResult{Source: strings.NewReader(in.text)}, nil
		case isStandardImport(p):
			fd, err := protoregistry.GlobalFiles.FindFileByPath(p)
			return protocompile.SearchResult{Desc: fd}, err
		}
		if src, ok := refs[p]; ok {
			return protocompile.SearchResult{Source: strings.NewReader(src)}, nil
		}
		if f, ok := wk[p]; ok {
			return protocompile.SearchResult{Desc: f}, nil
		}
		return protocompile.SearchResult{}, fs.ErrNotExist
	})

	var (
		mu   sync.Mutex // the compiler reports from several goroutines
		errs []error
	)
	cycles := map[string]bool{} // canonical reasons of the import cycles reported
	add := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		pe := toParseError(err, in.main)
		if canon, ok := canonicalCycle(pe, in.main); ok {
			// Every file of a cycle may find it, concurrently and in any
			// order: report it once, in one form.
			if cycles[canon.Reason] {
				return
			}
			cycles[canon.Reason] = true
			pe = canon
		}
		if len(errs) < maxErrors {
			errs = append(errs, pe)
		}
	}
	c := protocompile.Compiler{
		// The standard-imports wrapper adds the feature files
		// (cpp_features, java_features) that the runtime does not register.
		Resolver: protocompile.WithStandardImports(resolver),
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			add(err)
			return nil // keep going: report every problem, not the first
		}, nil),
	}
	names := in.imports
	if in.main != "" {
		names = []string{in.main}
	}
	files, err := c.Compile(context.Background(), slices.Compact(slices.Sorted(slices.Values(names)))...)
	var panicErr protocompile.PanicError
	if errors.As(err, &panicErr) {
		// protocompile recovers its own panics. v0.14.1 has at least one on
		// source text (a message-literal field name that differs from a
		// scalar field only in case); it is refused input, not our bug.
		return nil, &ParseError{Reason: fmt.Sprintf("the Protobuf compiler failed on this schema (%v); check option values and message literals", panicErr.Value)}
	}
	if len(errs) == 0 && err != nil && !errors.Is(err, reporter.ErrInvalidSource) {
		add(err) // errors outside the reporter, such as a missing import
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err != nil {
		return nil, &ParseError{Reason: err.Error()}
	}
	return files, nil
}

// toParseError gives a compiler error our shape: position split out, the
// main file's name dropped, missing imports explained.
func toParseError(err error, main string) *ParseError {
	pe := &ParseError{Reason: err.Error()}
	var ewp reporter.ErrorWithPos
	if errors.As(err, &ewp) {
		pos := ewp.GetPosition()
		if pos.Filename != main {
			pe.File = pos.Filename
		}
		pe.Line, pe.Col = pos.Line, pos.Col
		// The compiler names positions in other declarations with the file
		// name, e.g. "already defined at schema.proto:2:9"; the main file's
		// name is ours, not the user's, so it goes.
		pe.Reason = strings.ReplaceAll(ewp.Unwrap().Error(), main+":", "")
	}
	if errors.Is(err, fs.ErrNotExist) {
		// The compiler's text ("could not resolve path ...: file does not
		// exist") does not say how to fix it.
		if i, j := strings.Index(pe.Reason, `"`), strings.LastIndex(pe.Reason, `"`); i >= 0 && j > i {
			pe.Reason = fmt.Sprintf("import %s not found: it must be given as a reference", pe.Reason[i:j+1])
		}
	}
	return pe
}

// cyclePrefix starts the compiler's reason for an import cycle.
const cyclePrefix = "cycle found in imports: "

// canonicalCycle rewrites an import-cycle error in one form whichever file
// found it: the loop alone, starting at its least file name, positioned at
// that file (without a line: which import the compiler points at depends
// on which file found the cycle). ok is false for other errors.
func canonicalCycle(pe *ParseError, main string) (_ *ParseError, ok bool) {
	rest, ok := strings.CutPrefix(pe.Reason, cyclePrefix)
	if !ok {
		return nil, false
	}
	files := strings.Split(rest, " -> ")
	if len(files) < 2 {
		return nil, false
	}
	last := files[len(files)-1]
	start := slices.Index(files, last)
	loop := files[start : len(files)-1] // each file once; last closes it
	least := 0
	for i, f := range loop {
		if f < loop[least] {
			least = i
		}
	}
	rotated := append(slices.Clone(loop[least:]), loop[:least]...)
	rotated = append(rotated, rotated[0])
	file, err := strconv.Unquote(rotated[0])
	if err != nil {
		file = rotated[0]
	}
	if file == main {
		file = "" // the schema text itself, as elsewhere
	}
	return &ParseError{File: file, Reason: cyclePrefix + strings.Join(rotated, " -> ")}, true
}

func indexMessages(into map[protoreflect.FullName][]int, msgs protoreflect.MessageDescriptors, prefix []int) {
	for i := 0; i < msgs.Len(); i++ {
		m := msgs.Get(i)
		path := append(append(make([]int, 0, len(prefix)+1), prefix...), i)
		into[m.FullName()] = path
		indexMessages(into, m.Messages(), path)
	}
}

// Format returns serde.Protobuf.
func (s *Schema) Format() serde.Format { return serde.Protobuf }

// Canonical returns the stored form of spec/registry-api.md §5.2: the file
// re-printed from its descriptor in a fixed layout, comments dropped.
// It parses back (with the same references) to an equivalent descriptor with
// the same message indexes, and Parse(Canonical()).Canonical() == Canonical().
func (s *Schema) Canonical() string { return s.canonical }

// Normalized returns the normalized form of spec/registry-api.md §5.3: like
// Canonical, but with fully qualified type names, fields and enum values in
// number order, imports, options and reserved entries sorted and
// de-duplicated, and no syntax line for proto2.
func (s *Schema) Normalized() string { return s.normalized }

// FileDescriptorProto returns the schema's file as the compiler linked it:
// type names fully qualified, options interpreted, no source info. Its name
// is File().Path() and its dependencies are the import paths, that is the
// reference names (and bundled files) it imports. The message is new on
// every call and the caller's to change. Confluent serves it, base64
// encoded, as format=serialized.
func (s *Schema) FileDescriptorProto() *descriptorpb.FileDescriptorProto {
	var fdp *descriptorpb.FileDescriptorProto
	if r, ok := s.file.(interface {
		FileDescriptorProto() *descriptorpb.FileDescriptorProto
	}); ok {
		fdp = proto.Clone(r.FileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	} else {
		fdp = protodesc.ToFileDescriptorProto(s.file)
	}
	fdp.SourceCodeInfo = nil
	return fdp
}

// WithoutExtensions returns the Canonical text without what extends the
// schema: extend blocks (and the groups they declare), extension ranges,
// and custom options other than Confluent's own (confluent.*). It is
// Confluent's format=ignore_extensions, for tools that do not know the
// extensions. Imports stay as they are.
func (s *Schema) WithoutExtensions() string {
	return renderWithoutExtensions(s.file)
}

// File returns the linked descriptor of the schema. Its path is an internal
// name ("schema.proto" unless a reference uses that); its imports are the
// references and bundled files.
func (s *Schema) File() protoreflect.FileDescriptor { return s.file }

// Name returns the full name of the first top-level message (the record name
// of spec/wire-format.md §7.1 when the first message is the one serialised),
// or "" when the file declares no message.
func (s *Schema) Name() string {
	if s.file.Messages().Len() == 0 {
		return ""
	}
	return string(s.file.Messages().Get(0).FullName())
}

// Dependencies returns the import paths of the file in declaration order.
// The slice is the caller's to keep.
func (s *Schema) Dependencies() []string {
	return append([]string(nil), s.deps...)
}
