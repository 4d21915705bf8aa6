// Package testpb holds Protobuf messages for the client's tests, generated
// by protoc-gen-go's generator (driven without protoc by gen_test.go:
// `go test ./client/internal/testpb -update` regenerates them).
package testpb
