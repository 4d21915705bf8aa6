package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/registry/compat"
)

// Sentinel errors. Transports map each to its Confluent error code (in
// parentheses) or Connect code; callers test them with errors.Is. Returned
// errors wrap them with the subject, version or id concerned.
var (
	ErrSubjectNotFound       = errors.New("subject not found")                  // 40401
	ErrVersionNotFound       = errors.New("version not found")                  // 40402
	ErrSchemaNotFound        = errors.New("schema not found")                   // 40403
	ErrSubjectSoftDeleted    = errors.New("subject was soft deleted")           // 40404
	ErrSubjectNotSoftDeleted = errors.New("subject was not soft deleted first") // 40405
	ErrVersionSoftDeleted    = errors.New("version was soft deleted")           // 40406
	ErrVersionNotSoftDeleted = errors.New("version was not soft deleted first") // 40407
	ErrSubjectConfigNotFound = errors.New("subject has no compatibility level") // 40408
	ErrSubjectModeNotFound   = errors.New("subject has no mode")                // 40409
	ErrInvalidVersion        = errors.New("invalid version")                    // 42202
	ErrInvalidCompatibility  = errors.New("invalid compatibility level")        // 42203
	ErrInvalidMode           = errors.New("invalid mode")                       // 42204
	ErrOperationNotPermitted = errors.New("operation not permitted")            // 42205
	ErrReferenceExists       = errors.New("schema is referenced")               // 42206
	ErrInvalidSubject        = errors.New("invalid subject name")               // 42208
	ErrSchemaTooLarge        = errors.New("schema too large")                   // 42209
	ErrInvalidRuleSet        = errors.New("invalid rule set")                   // 42210
	ErrContextNotEmpty       = errors.New("context not empty")                  // 42211
	ErrStore                 = errors.New("backend store error")                // 50001
)

// InvalidSchemaError is a schema that does not parse or validate, or whose
// references cannot be resolved (Confluent 42201). The registry also uses it,
// wrapping compat.ErrNotSupported, when the subject's compatibility level
// cannot be checked for the schema's format yet: such a schema is never
// reported compatible, and transports show the error as 42201 /
// InvalidArgument with a message that says to use level NONE meanwhile.
type InvalidSchemaError struct {
	// Reason says what is wrong and where (line:column or JSON path).
	Reason string
	Err    error
}

// Error renders "invalid schema: <reason>".
func (e *InvalidSchemaError) Error() string { return "invalid schema: " + e.Reason }

// Unwrap returns the parser's (or compat's) error, if any, so that
// errors.Is(err, compat.ErrNotSupported) works through it.
func (e *InvalidSchemaError) Unwrap() error { return e.Err }

// IncompatibleError is a schema refused by the subject's compatibility level
// (Confluent 409). It lists every violation of the first failing version.
type IncompatibleError struct {
	Subject    string
	Level      compat.Level
	Violations []compat.Violation
}

// Error renders the level and every violation with its version and path.
func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema being registered is incompatible with an earlier schema for subject %q (%s)", e.Subject, e.Level)
	for _, v := range e.Violations {
		b.WriteString("; ")
		if v.Version > 0 {
			fmt.Fprintf(&b, "version %d: ", v.Version)
		}
		b.WriteString(v.String())
	}
	return b.String()
}
