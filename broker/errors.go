package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// Sentinel errors. Broker methods wrap them with the topic, partition and
// offset concerned; test with errors.Is.
var (
	// ErrTopicNotFound: the topic does not exist (or is being deleted).
	ErrTopicNotFound = errors.New("topic not found")
	// ErrTopicExists: CreateTopic of a name already taken.
	ErrTopicExists = errors.New("topic already exists")
	// ErrInvalidArgument marks every refused argument: bad topic names,
	// partition counts, config keys and values, partitions the topic does not
	// have, oversize records and requests, bad fetch limits.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrOffsetOutOfRange: an offset outside [log start offset, high
	// watermark]; the wrapping message gives the valid range.
	ErrOffsetOutOfRange = log.ErrOffsetOutOfRange
	// ErrClosed: the broker is closing, or the topic was deleted while the
	// request was in flight.
	ErrClosed = errors.New("broker: closed")
)

// invalidf returns an error wrapping ErrInvalidArgument with the formatted
// message; the sentinel's own text is not repeated in the message because
// the message already says what is wrong.
func invalidf(format string, args ...any) error {
	return &argError{msg: fmt.Sprintf(format, args...)}
}

// argError is an InvalidArgument condition with a complete message.
type argError struct{ msg string }

func (e *argError) Error() string        { return e.msg }
func (e *argError) Is(target error) bool { return target == ErrInvalidArgument }

// RecordError says why one record of a Produce request was refused.
type RecordError struct {
	// Index is the record's 0-based position in the request.
	Index int
	// Err is the reason.
	Err error
}

// Error renders "record N: reason", the form DESIGN.md §8 fixes.
func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }

// Unwrap returns the reason.
func (e *RecordError) Unwrap() error { return e.Err }

// ProduceError refuses a whole Produce request: it lists every bad record,
// in request order. Nothing of the request was appended.
type ProduceError struct {
	Topic   string
	Records []*RecordError
}

// Error names the topic and every bad record, first bad record first.
func (e *ProduceError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "produce %s: ", e.Topic)
	for i, r := range e.Records {
		if i > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString(r.Error())
	}
	return sb.String()
}

// Is makes every ProduceError an ErrInvalidArgument.
func (e *ProduceError) Is(target error) bool { return target == ErrInvalidArgument }

// connectError maps a broker error to its Connect code: the one place where
// domain errors meet the transport. Errors without a domain meaning are
// Internal; the caller logs those.
func connectError(err error) *connect.Error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, ErrTopicNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrTopicExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, ErrInvalidArgument), errors.Is(err, log.ErrRecordTooLarge), errors.Is(err, log.ErrBatchTooLarge):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, ErrOffsetOutOfRange):
		return connect.NewError(connect.CodeOutOfRange, err)
	case errors.Is(err, ErrClosed), errors.Is(err, log.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

// rpcError maps err for a handler and logs it once at Error when it is
// Internal: nobody else reports those.
func (b *Broker) rpcError(procedure string, err error) error {
	ce := connectError(err)
	if ce.Code() == connect.CodeInternal {
		b.log.Error("request failed", "procedure", procedure, "err", err)
	}
	return ce
}
