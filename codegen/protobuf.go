package codegen

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	"github.com/sluicehq/sluice/manifest"
	sproto "github.com/sluicehq/sluice/serde/protobuf"
)

// protoType returns the protoc-gen-go type of a Protobuf subject's
// message, "*pkg.Name", importing its package. The Go names are protogen's
// own, computed from the file as protoc-gen-go would compute them.
func (g *manifestGen) protoType(sub *manifest.Subject) (string, *protogen.Message, error) {
	s, ok := sub.Schema.(*sproto.Schema)
	if !ok {
		return "", nil, fmt.Errorf("subject %s: not a parsed Protobuf schema", sub.Name)
	}
	fd := s.File()
	var md protoreflect.MessageDescriptor
	if sub.Record != "" {
		path, err := s.IndexesOf(sub.Record)
		if err != nil {
			return "", nil, fmt.Errorf("%s has no message %s", sub.File, sub.Record)
		}
		if md, err = s.MessageByIndexes(path); err != nil {
			return "", nil, err
		}
	} else {
		if fd.Messages().Len() == 0 {
			return "", nil, fmt.Errorf("%s declares no message", sub.File)
		}
		md = fd.Messages().Get(0)
	}
	goPkg := g.cfg.ProtoGoPackages[sub.File]
	if goPkg == "" {
		if opts, ok := fd.Options().(*descriptorpb.FileOptions); ok {
			goPkg = opts.GetGoPackage()
		}
	}
	if goPkg == "" {
		return "", nil, fmt.Errorf("%s has no go_package option: add one, or map the file to the Go package protoc-gen-go generates it into (sluice gen -M %s=<import path>)", sub.File, sub.File)
	}
	ident, err := protoGoIdent(fd, md, goPkg)
	if err != nil {
		return "", nil, err
	}
	importPath, name, _ := strings.Cut(goPkg, ";")
	if name == "" {
		name = string(ident.pkgName)
	}
	g.protoPkgNames[importPath] = name
	return "*" + g.e.useNamed(importPath, name) + "." + ident.goName, ident.msg, nil
}

type goIdent struct {
	goName  string
	pkgName protogen.GoPackageName
	msg     *protogen.Message
}

// protoGoIdent asks protogen for the Go name of md in its file, as
// protoc-gen-go names it with go_package goPkg.
func protoGoIdent(fd protoreflect.FileDescriptor, md protoreflect.MessageDescriptor, goPkg string) (goIdent, error) {
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: []string{fd.Path()}}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			add(imps.Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(f)
		if fdp.Options == nil {
			fdp.Options = &descriptorpb.FileOptions{}
		}
		if f.Path() == fd.Path() {
			fdp.Options.GoPackage = proto.String(goPkg)
		} else if fdp.Options.GetGoPackage() == "" {
			// Imports need some Go package for protogen to accept them;
			// their names do not matter here.
			fdp.Options.GoPackage = proto.String("example.invalid/dep" + fmt.Sprint(len(seen)))
		}
		req.ProtoFile = append(req.ProtoFile, fdp)
	}
	add(fd)
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return goIdent{}, fmt.Errorf("%s: %w", fd.Path(), err)
	}
	f := plugin.FilesByPath[fd.Path()]
	var find func([]*protogen.Message) *protogen.Message
	find = func(ms []*protogen.Message) *protogen.Message {
		for _, m := range ms {
			if m.Desc.FullName() == md.FullName() {
				return m
			}
			if r := find(m.Messages); r != nil {
				return r
			}
		}
		return nil
	}
	m := find(f.Messages)
	if m == nil {
		return goIdent{}, fmt.Errorf("%s: message %s not found", fd.Path(), md.FullName())
	}
	return goIdent{goName: m.GoIdent.GoName, pkgName: f.GoPackageName, msg: m}, nil
}

// useNamed imports path under name (or a variant of it when taken).
func (e *emitter) useNamed(importPath, name string) string {
	if n, ok := e.imports[importPath]; ok {
		return n
	}
	n := sanitizeIdent(name)
	base := n
	for i := 2; ; i++ {
		clash := false
		for _, v := range e.imports {
			if v == n {
				clash = true
			}
		}
		if !clash {
			break
		}
		n = base + fmt.Sprint(i)
	}
	e.imports[importPath] = n
	return n
}
