// Package rpc serves the registry as sluice.registry.v1.RegistryService over
// Connect, gRPC and gRPC-Web.
//
// Each RPC is a thin adapter over one registry.Registry method with the same
// semantics as the Confluent REST endpoint it mirrors (spec
// registry-api.md §4); errors.go maps registry errors to Connect codes in one
// function. Protobuf cannot carry "absent" for plain scalars, so the API uses
// these conventions: SCHEMA_TYPE_UNSPECIFIED means Avro; GetVersion's version
// 0 or -1 means the latest live version; DeleteVersion's -1 means latest and 0
// is invalid; CheckCompatibility without a version checks the history the
// subject's level names (as a registration would), with -1 the latest
// version only; SetConfig with COMPATIBILITY_UNSPECIFIED leaves the level
// unchanged; an empty subject in GetConfig and SetConfig means global. The
// format field of GetSchema, GetSchemaByGUID, GetVersion and Lookup is the
// REST API's format parameter (registry.FormatSchema).
package rpc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/registry/v1/registryv1connect"
	"github.com/sluicehq/sluice/registry"
)

// Config configures the RegistryService handler.
type Config struct {
	// Logger receives one Error line per request that failed inside the
	// server (an unexpected or store error); nil discards.
	Logger *slog.Logger
}

// Mount registers the RegistryService handler on mux, with no logger. Use
// NewHandler to log internal failures.
func Mount(mux *http.ServeMux, reg *registry.Registry, opts ...connect.HandlerOption) {
	mux.Handle(NewHandler(reg, Config{}, opts...))
}

// NewHandler returns the path and handler of RegistryService over reg. The
// handler is safe for concurrent use.
func NewHandler(reg *registry.Registry, cfg Config, opts ...connect.HandlerOption) (string, http.Handler) {
	s := &service{reg: reg, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return registryv1connect.NewRegistryServiceHandler(s, opts...)
}

// service implements registryv1connect.RegistryServiceHandler.
type service struct {
	reg *registry.Registry
	log *slog.Logger
}

var _ registryv1connect.RegistryServiceHandler = (*service)(nil)

// Register adds a schema to a subject, or returns the version holding it.
func (s *service) Register(ctx context.Context, req *connect.Request[registryv1.RegisterRequest]) (*connect.Response[registryv1.RegisterResponse], error) {
	in, err := schemaIn(req.Msg.GetSchema())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	sv, err := s.reg.Register(ctx, req.Msg.GetSubject(), in, registry.RegisterOptions{Normalize: req.Msg.GetNormalize()})
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.RegisterResponse{Id: int32(sv.ID), Version: int32(sv.Version), Guid: guidOut(sv.Schema)}), nil
}

// Lookup finds the version of a subject holding a schema.
func (s *service) Lookup(ctx context.Context, req *connect.Request[registryv1.LookupRequest]) (*connect.Response[registryv1.LookupResponse], error) {
	in, err := schemaIn(req.Msg.GetSchema())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	sv, err := s.reg.Lookup(ctx, req.Msg.GetSubject(), in, registry.LookupOptions{
		Normalize: req.Msg.GetNormalize(),
		Deleted:   req.Msg.GetDeleted(),
	})
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out, err := s.formattedVersion(ctx, sv, req.Msg.GetFormat())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.LookupResponse{Version: out}), nil
}

// GetSchema returns the schema with a global id, soft-deleted uses included.
func (s *service) GetSchema(ctx context.Context, req *connect.Request[registryv1.GetSchemaRequest]) (*connect.Response[registryv1.GetSchemaResponse], error) {
	id := req.Msg.GetId()
	if id <= 0 {
		return nil, s.toConnect(ctx, notFoundID(int(id)))
	}
	// The answer for an id never changes: it is built once per id and
	// format and kept with the stored schema (registry.CachedByID).
	out, err := s.reg.CachedByID(ctx, int(id), req.Msg.GetFormat(), answerGetSchema, func(sch registry.Schema, text string) (any, error) {
		out := schemaOut(sch)
		out.Text = text
		return &registryv1.GetSchemaResponse{Id: id, Schema: out, Guid: guidOut(sch)}, nil
	})
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	// Shared by every request for the id: Connect only reads it.
	return connect.NewResponse(out.(*registryv1.GetSchemaResponse)), nil
}

// answerGetSchema is the kind of GetSchema's cached answers.
var answerGetSchema = registry.NewAnswerKind()

// GetSchemaByGUID returns the schema whose content has a GUID (§8), with
// the lowest id that stores it and all such ids. A GUID that is not 16
// bytes is InvalidArgument; an unknown one NotFound.
func (s *service) GetSchemaByGUID(ctx context.Context, req *connect.Request[registryv1.GetSchemaByGUIDRequest]) (*connect.Response[registryv1.GetSchemaByGUIDResponse], error) {
	raw := req.Msg.GetGuid()
	if len(raw) != 16 {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("schema guid is %d bytes, want 16", len(raw)))
	}
	g := uuid.UUID(raw)
	sch, id, err := s.reg.SchemaByGUID(ctx, g)
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	ids, err := s.reg.IDsByGUID(ctx, g)
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	text, err := s.formattedSchema(ctx, id, sch, req.Msg.GetFormat())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out := &registryv1.GetSchemaByGUIDResponse{Id: int32(id), Schema: text}
	for _, x := range ids {
		out.Ids = append(out.Ids, int32(x))
	}
	return connect.NewResponse(out), nil
}

// GetVersion returns one version of a subject; 0 and -1 mean latest.
func (s *service) GetVersion(ctx context.Context, req *connect.Request[registryv1.GetVersionRequest]) (*connect.Response[registryv1.GetVersionResponse], error) {
	v := int(req.Msg.GetVersion())
	if v == 0 {
		v = registry.Latest
	}
	if err := checkVersion(v); err != nil {
		return nil, s.toConnect(ctx, err)
	}
	sv, err := s.reg.Version(ctx, req.Msg.GetSubject(), v, req.Msg.GetDeleted())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out, err := s.formattedVersion(ctx, sv, req.Msg.GetFormat())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.GetVersionResponse{Version: out}), nil
}

// ListSubjects lists subjects by prefix.
func (s *service) ListSubjects(ctx context.Context, req *connect.Request[registryv1.ListSubjectsRequest]) (*connect.Response[registryv1.ListSubjectsResponse], error) {
	subjects, err := s.reg.Subjects(ctx, req.Msg.GetPrefix(), registry.ListOptions{Deleted: req.Msg.GetDeleted()})
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.ListSubjectsResponse{Subjects: subjects}), nil
}

// ListVersions lists a subject's version numbers, ascending.
func (s *service) ListVersions(ctx context.Context, req *connect.Request[registryv1.ListVersionsRequest]) (*connect.Response[registryv1.ListVersionsResponse], error) {
	vs, err := s.reg.Versions(ctx, req.Msg.GetSubject(), registry.ListOptions{Deleted: req.Msg.GetDeleted()})
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out := make([]int32, len(vs))
	for i, v := range vs {
		out[i] = int32(v)
	}
	return connect.NewResponse(&registryv1.ListVersionsResponse{Versions: out}), nil
}

// CheckCompatibility tests a schema without registering it. An incompatible
// schema is a successful answer listing the violations, not an error.
func (s *service) CheckCompatibility(ctx context.Context, req *connect.Request[registryv1.CheckCompatibilityRequest]) (*connect.Response[registryv1.CheckCompatibilityResponse], error) {
	in, err := schemaIn(req.Msg.GetSchema())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	version := 0 // absent: the whole history the level names
	if req.Msg.Version != nil {
		version = int(req.Msg.GetVersion())
		if err := checkVersion(version); err != nil {
			return nil, s.toConnect(ctx, err)
		}
	}
	res, err := s.reg.CheckCompatibility(ctx, req.Msg.GetSubject(), in, version, req.Msg.GetNormalize())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.CheckCompatibilityResponse{
		Compatible:    res.Compatible,
		Compatibility: levelOut(res.Level),
		Violations:    violationsOut(res.Violations),
	}), nil
}

// GetConfig returns a subject's or the global configuration.
func (s *service) GetConfig(ctx context.Context, req *connect.Request[registryv1.GetConfigRequest]) (*connect.Response[registryv1.GetConfigResponse], error) {
	cfg, err := s.reg.Config(ctx, req.Msg.GetSubject(), req.Msg.GetDefaultToGlobal())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out := &registryv1.GetConfigResponse{Normalize: cfg.Normalize != nil && *cfg.Normalize}
	if cfg.Compatibility != nil {
		out.Compatibility = levelOut(*cfg.Compatibility)
	}
	return connect.NewResponse(out), nil
}

// SetConfig changes a subject's or the global configuration; unspecified
// fields are left as they are.
func (s *service) SetConfig(ctx context.Context, req *connect.Request[registryv1.SetConfigRequest]) (*connect.Response[registryv1.SetConfigResponse], error) {
	var update registry.SubjectConfig
	if c := req.Msg.GetCompatibility(); c != registryv1.Compatibility_COMPATIBILITY_UNSPECIFIED {
		l, err := levelIn(c)
		if err != nil {
			return nil, s.toConnect(ctx, err)
		}
		update.Compatibility = &l
	}
	update.Normalize = req.Msg.Normalize
	cfg, err := s.reg.SetConfig(ctx, req.Msg.GetSubject(), update)
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out := &registryv1.SetConfigResponse{Normalize: cfg.Normalize != nil && *cfg.Normalize}
	if cfg.Compatibility != nil {
		out.Compatibility = levelOut(*cfg.Compatibility)
	}
	return connect.NewResponse(out), nil
}

// DeleteSubject soft- or hard-deletes every version of a subject.
func (s *service) DeleteSubject(ctx context.Context, req *connect.Request[registryv1.DeleteSubjectRequest]) (*connect.Response[registryv1.DeleteSubjectResponse], error) {
	vs, err := s.reg.DeleteSubject(ctx, req.Msg.GetSubject(), req.Msg.GetPermanent())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	out := make([]int32, len(vs))
	for i, v := range vs {
		out[i] = int32(v)
	}
	return connect.NewResponse(&registryv1.DeleteSubjectResponse{Versions: out}), nil
}

// formattedSchema converts the stored schema with id, its text in format
// (registry.FormatSchema; empty means the stored text).
func (s *service) formattedSchema(ctx context.Context, id int, sch registry.Schema, format string) (*registryv1.Schema, error) {
	out := schemaOut(sch)
	if strings.TrimSpace(format) == "" {
		return out, nil
	}
	text, err := s.reg.FormatSchema(ctx, id, format)
	if err != nil {
		return nil, err
	}
	out.Text = text
	return out, nil
}

// formattedVersion is subjectVersionOut with the schema text in format.
func (s *service) formattedVersion(ctx context.Context, sv registry.SubjectVersion, format string) (*registryv1.SubjectVersion, error) {
	out := subjectVersionOut(sv)
	sch, err := s.formattedSchema(ctx, sv.ID, sv.Schema, format)
	if err != nil {
		return nil, err
	}
	out.Schema = sch
	return out, nil
}

// DeleteVersion soft- or hard-deletes one version; -1 means latest.
func (s *service) DeleteVersion(ctx context.Context, req *connect.Request[registryv1.DeleteVersionRequest]) (*connect.Response[registryv1.DeleteVersionResponse], error) {
	v := int(req.Msg.GetVersion())
	if err := checkVersion(v); err != nil {
		return nil, s.toConnect(ctx, err)
	}
	n, err := s.reg.DeleteVersion(ctx, req.Msg.GetSubject(), v, req.Msg.GetPermanent())
	if err != nil {
		return nil, s.toConnect(ctx, err)
	}
	return connect.NewResponse(&registryv1.DeleteVersionResponse{Version: int32(n)}), nil
}
