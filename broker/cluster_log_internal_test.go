package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker/internal/log"
	"github.com/sluicehq/sluice/broker/internal/shared"
)

// The shared log's errors match the sentinels the transports map, and
// keep matching their own.
func TestSharedErr(t *testing.T) {
	other := errors.New("other")
	for _, c := range []struct {
		in    error
		match []error
		not   []error
	}{
		{shared.ErrClosed, []error{shared.ErrClosed, log.ErrClosed}, []error{ErrStorage, ErrTopicNotFound}},
		{fmt.Errorf("x: %w", shared.ErrUnavailable), []error{shared.ErrUnavailable, log.ErrClosed, ErrStorage}, []error{ErrTopicNotFound}},
		{shared.ErrOutcomeUnknown, []error{shared.ErrOutcomeUnknown, log.ErrClosed, ErrStorage}, nil},
		{fmt.Errorf("p: %w", shared.ErrPartitionDeleted), []error{shared.ErrPartitionDeleted, ErrTopicNotFound}, []error{log.ErrClosed}},
		{shared.ErrMarkerRefused, []error{shared.ErrNotInTransaction, ErrInvalidTxnState}, []error{ErrStorage}},
		{shared.ErrBatchNotInTransaction, []error{ErrInvalidTxnState}, []error{ErrInvalidArgument}},
		{shared.ErrCorruptObject, []error{ErrStorage}, []error{log.ErrClosed}},
		{&log.OffsetRangeError{Offset: 9, Start: 0, End: 3}, []error{log.ErrOffsetOutOfRange}, []error{log.ErrClosed}},
		{other, []error{other}, []error{log.ErrClosed, ErrStorage, ErrTopicNotFound, ErrInvalidArgument}},
	} {
		got := sharedErr(c.in)
		if got.Error() != c.in.Error() {
			t.Errorf("sharedErr(%v) says %q", c.in, got)
		}
		for _, m := range c.match {
			if !errors.Is(got, m) {
				t.Errorf("sharedErr(%v) does not match %v", c.in, m)
			}
		}
		for _, m := range c.not {
			if errors.Is(got, m) {
				t.Errorf("sharedErr(%v) matches %v", c.in, m)
			}
		}
	}
	if sharedErr(nil) != nil {
		t.Error("sharedErr(nil) != nil")
	}
}
