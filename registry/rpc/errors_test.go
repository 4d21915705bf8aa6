package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// TestCodeOf checks the one mapping from registry errors to Connect codes.
func TestCodeOf(t *testing.T) {
	tests := []struct {
		err      error
		code     connect.Code
		internal bool
	}{
		{registry.ErrSubjectNotFound, connect.CodeNotFound, false},
		{registry.ErrVersionNotFound, connect.CodeNotFound, false},
		{registry.ErrSchemaNotFound, connect.CodeNotFound, false},
		{registry.ErrSubjectSoftDeleted, connect.CodeNotFound, false},
		{registry.ErrVersionSoftDeleted, connect.CodeNotFound, false},
		{registry.ErrSubjectConfigNotFound, connect.CodeNotFound, false},
		{registry.ErrSubjectModeNotFound, connect.CodeNotFound, false},
		{registry.ErrSubjectNotSoftDeleted, connect.CodeFailedPrecondition, false},
		{registry.ErrVersionNotSoftDeleted, connect.CodeFailedPrecondition, false},
		{registry.ErrOperationNotPermitted, connect.CodeFailedPrecondition, false},
		{registry.ErrReferenceExists, connect.CodeFailedPrecondition, false},
		{registry.ErrContextNotEmpty, connect.CodeFailedPrecondition, false},
		{&registry.IncompatibleError{Subject: "s", Level: compat.Full}, connect.CodeFailedPrecondition, false},
		{&registry.InvalidSchemaError{Reason: "bad"}, connect.CodeInvalidArgument, false},
		{registry.ErrInvalidVersion, connect.CodeInvalidArgument, false},
		{registry.ErrInvalidCompatibility, connect.CodeInvalidArgument, false},
		{registry.ErrInvalidMode, connect.CodeInvalidArgument, false},
		{registry.ErrInvalidSubject, connect.CodeInvalidArgument, false},
		{registry.ErrSchemaTooLarge, connect.CodeInvalidArgument, false},
		{registry.ErrInvalidRuleSet, connect.CodeInvalidArgument, false},
		{compat.ErrNotSupported, connect.CodeUnimplemented, false},
		{context.Canceled, connect.CodeCanceled, false},
		{context.DeadlineExceeded, connect.CodeDeadlineExceeded, false},
		{registry.ErrStore, connect.CodeInternal, true},
		{errors.New("surprise"), connect.CodeInternal, true},
	}
	for _, tt := range tests {
		err := fmt.Errorf("subject %q: %w", "orders-value", tt.err)
		code, internal := codeOf(err)
		if code != tt.code || internal != tt.internal {
			t.Errorf("codeOf(%v) = %v, %v; want %v, %v", err, code, internal, tt.code, tt.internal)
		}
	}
}

// TestToConnectHidesInternals: an unexpected error's text stays in the log.
func TestToConnectHidesInternals(t *testing.T) {
	s := &service{log: discard()}
	err := s.toConnect(context.Background(), errors.New("password=hunter2"))
	if connect.CodeOf(err) != connect.CodeInternal || errors.Unwrap(err) == nil || err.Error() != "internal: internal error" {
		t.Errorf("toConnect(unexpected) = %q", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestCanceledBeatsStore: the core wraps a canceled store call in ErrStore;
// it is still a cancellation, not an internal failure to log.
func TestCanceledBeatsStore(t *testing.T) {
	err := fmt.Errorf("register: %w: %w", registry.ErrStore, context.Canceled)
	if code, internal := codeOf(err); code != connect.CodeCanceled || internal {
		t.Errorf("codeOf(%v) = %v, %v; want Canceled, not internal", err, code, internal)
	}
}
