// Package shopapi holds the Go types and typed-client bindings of the shop
// topics that the stream-processing examples read and write, generated
// by `sluice gen` from sluice.yaml.
package shopapi

//go:generate go run ../../cmd/sluice gen --out .
