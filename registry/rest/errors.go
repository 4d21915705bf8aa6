package rest

import (
	"context"
	"errors"
	"net/http"

	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/compat"
)

// Error codes of spec §2.3 that the REST layer emits. Registry errors carry
// an HTTP status equal to the code's first three digits.
const (
	codeSubjectNotFound       = 40401
	codeVersionNotFound       = 40402
	codeSchemaNotFound        = 40403
	codeSubjectSoftDeleted    = 40404
	codeSubjectNotSoftDeleted = 40405
	codeVersionSoftDeleted    = 40406
	codeVersionNotSoftDeleted = 40407
	codeSubjectConfigNotFound = 40408
	codeSubjectModeNotFound   = 40409
	// codeIncompatible is the classic 409; 8.2+ servers say 40901, but every
	// client accepts 409 and older ones accept only it.
	codeIncompatible          = 409
	codeInvalidSchema         = 42201
	codeInvalidVersion        = 42202
	codeInvalidCompatibility  = 42203
	codeInvalidMode           = 42204
	codeOperationNotPermitted = 42205
	codeReferenceExists       = 42206
	codeInvalidSubject        = 42208
	codeSchemaTooLarge        = 42209
	codeInvalidRuleSet        = 42210
	codeContextNotEmpty       = 42211
	codeStore                 = 50001
	codeTimeout               = 50002
)

// sentinels maps each registry sentinel to its error code, in the order
// errorCode tests them.
var sentinels = []struct {
	err  error
	code int
}{
	{registry.ErrSubjectNotFound, codeSubjectNotFound},
	{registry.ErrVersionNotFound, codeVersionNotFound},
	{registry.ErrSchemaNotFound, codeSchemaNotFound},
	{registry.ErrSubjectSoftDeleted, codeSubjectSoftDeleted},
	{registry.ErrSubjectNotSoftDeleted, codeSubjectNotSoftDeleted},
	{registry.ErrVersionSoftDeleted, codeVersionSoftDeleted},
	{registry.ErrVersionNotSoftDeleted, codeVersionNotSoftDeleted},
	{registry.ErrSubjectConfigNotFound, codeSubjectConfigNotFound},
	{registry.ErrSubjectModeNotFound, codeSubjectModeNotFound},
	{registry.ErrInvalidVersion, codeInvalidVersion},
	{registry.ErrInvalidCompatibility, codeInvalidCompatibility},
	{registry.ErrInvalidMode, codeInvalidMode},
	{registry.ErrOperationNotPermitted, codeOperationNotPermitted},
	{registry.ErrReferenceExists, codeReferenceExists},
	{registry.ErrInvalidSubject, codeInvalidSubject},
	{registry.ErrSchemaTooLarge, codeSchemaTooLarge},
	{registry.ErrInvalidRuleSet, codeInvalidRuleSet},
	{registry.ErrContextNotEmpty, codeContextNotEmpty},
	{registry.ErrStore, codeStore},
}

// httpError is a framework-level error: its error_code is the bare status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// errorCode is the one place that maps an error to the HTTP status and the
// Confluent error_code of the envelope. internal reports a server-side
// failure that nobody else will log.
func errorCode(err error) (status, code int, internal bool) {
	var he *httpError
	var ie *registry.IncompatibleError
	var ise *registry.InvalidSchemaError
	switch {
	case errors.As(err, &he):
		return he.status, he.status, false
	case errors.As(err, &ie):
		return http.StatusConflict, codeIncompatible, false
	case errors.As(err, &ise):
		return http.StatusUnprocessableEntity, codeInvalidSchema, false
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// Tested before the sentinels because the core wraps a canceled
		// store call in ErrStore too. Canceled: the client went away and
		// will not read the answer; not a server failure either way.
		return http.StatusInternalServerError, codeTimeout, false
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.code / 100, s.code, s.code == codeStore
		}
	}
	switch {
	case errors.Is(err, compat.ErrNotSupported):
		// No rules yet for this format: refusing is the only safe answer,
		// and it is the client's request that cannot be served.
		return http.StatusUnprocessableEntity, codeInvalidSchema, false
	}
	return http.StatusInternalServerError, http.StatusInternalServerError, true
}

// writeError answers the envelope for err, logging server-side failures once.
func (h *handler) writeError(c *call, err error) {
	status, code, internal := errorCode(err)
	msg := err.Error()
	if internal {
		h.log.Error("REST request failed", "method", c.r.Method, "path", c.r.URL.Path, "error", err)
		if code == http.StatusInternalServerError {
			// An unexpected error may carry internals; the log has them.
			msg = "Internal Server Error"
		}
	}
	h.writeEnvelope(c, status, code, msg)
}

// envelope is the error body of spec §2.2.
type envelope struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func (h *handler) writeEnvelope(c *call, status, code int, msg string) {
	h.writeValue(c, status, envelope{ErrorCode: code, Message: msg})
}
