package kafka

// Test hooks for the external tests (conn_buffer_test.go).
var (
	PoisonReusedBuffers  = &poisonReusedBuffers
	RequestBuffersReused = &requestBuffersReused
)
