package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	registryv1 "github.com/sluicehq/sluice/proto/gen/sluice/registry/v1"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// codes maps each registry sentinel to its Connect code, in the order
// codeOf tests them. The soft-delete state errors follow the REST API's
// reading: asking for something already gone is NotFound, asking to
// hard-delete something still live is FailedPrecondition (soft-delete first).
var codes = []struct {
	err  error
	code connect.Code
}{
	{registry.ErrSubjectNotFound, connect.CodeNotFound},
	{registry.ErrVersionNotFound, connect.CodeNotFound},
	{registry.ErrSchemaNotFound, connect.CodeNotFound},
	{registry.ErrSubjectSoftDeleted, connect.CodeNotFound},
	{registry.ErrVersionSoftDeleted, connect.CodeNotFound},
	{registry.ErrSubjectConfigNotFound, connect.CodeNotFound},
	{registry.ErrSubjectModeNotFound, connect.CodeNotFound},
	{registry.ErrSubjectNotSoftDeleted, connect.CodeFailedPrecondition},
	{registry.ErrVersionNotSoftDeleted, connect.CodeFailedPrecondition},
	{registry.ErrOperationNotPermitted, connect.CodeFailedPrecondition},
	{registry.ErrReferenceExists, connect.CodeFailedPrecondition},
	{registry.ErrContextNotEmpty, connect.CodeFailedPrecondition},
	{registry.ErrInvalidVersion, connect.CodeInvalidArgument},
	{registry.ErrInvalidCompatibility, connect.CodeInvalidArgument},
	{registry.ErrInvalidMode, connect.CodeInvalidArgument},
	{registry.ErrInvalidSubject, connect.CodeInvalidArgument},
	{registry.ErrSchemaTooLarge, connect.CodeInvalidArgument},
	{registry.ErrInvalidRuleSet, connect.CodeInvalidArgument},
	{registry.ErrStore, connect.CodeInternal},
}

// codeOf is the one place that maps an error to a Connect code. internal
// reports a server-side failure that must be logged, since nobody else will.
func codeOf(err error) (code connect.Code, internal bool) {
	var ie *registry.IncompatibleError
	var ise *registry.InvalidSchemaError
	switch {
	case errors.As(err, &ie):
		return connect.CodeFailedPrecondition, false
	case errors.As(err, &ise):
		return connect.CodeInvalidArgument, false
	// Before the sentinels: the core wraps a canceled store call in
	// ErrStore too, and the caller's own deadline is not our failure.
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, false
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, false
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code, c.code == connect.CodeInternal
		}
	}
	if errors.Is(err, compat.ErrNotSupported) {
		return connect.CodeUnimplemented, false
	}
	return connect.CodeInternal, true
}

// toConnect converts a registry error into a *connect.Error, attaching an
// IncompatibilityDetail that lists every violation to incompatible-schema
// errors. Unexpected errors are logged once and answered without their text,
// which may carry internals.
func (s *service) toConnect(ctx context.Context, err error) error {
	code, internal := codeOf(err)
	if internal {
		s.log.ErrorContext(ctx, "registry RPC failed", "error", err)
		if !errors.Is(err, registry.ErrStore) {
			return connect.NewError(code, errors.New("internal error"))
		}
	}
	ce := connect.NewError(code, err)
	var ie *registry.IncompatibleError
	if errors.As(err, &ie) {
		d, derr := connect.NewErrorDetail(&registryv1.IncompatibilityDetail{
			Subject:       ie.Subject,
			Compatibility: levelOut(ie.Level),
			Violations:    violationsOut(ie.Violations),
		})
		if derr == nil {
			ce.AddDetail(d)
		}
	}
	return ce
}
