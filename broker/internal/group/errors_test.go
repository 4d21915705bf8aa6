package group

import (
	"errors"
	"testing"
	"time"
)

// TestUnknownAssignorError: an unknown server assignor is both an invalid
// argument (the Connect API's InvalidArgument) and ErrUnsupportedAssignor
// (Kafka's UNSUPPORTED_ASSIGNOR).
func TestUnknownAssignorError(t *testing.T) {
	st := NewState(Config{NewMemberID: func() string { return "m" }})
	_, err := st.Heartbeat(time.Unix(0, 0), Topics{"a": 1}, HeartbeatRequest{Group: "g", Sub: &Subscription{Topics: []string{"a"}, Assignor: "sticky"}})
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrUnsupportedAssignor) || err.Error() != `group g: unknown assignor "sticky"; want uniform or range` {
		t.Fatalf("got %v", err)
	}
}
