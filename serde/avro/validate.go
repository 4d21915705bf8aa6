package avro

import "errors"

// ValidateDatum checks that b is exactly one Avro binary datum of the schema
// (with the Confluent rule that a "bytes" schema's datum is the raw bytes),
// without building Go values. Errors are *serde.DatumError.
func (s *Schema) ValidateDatum(b []byte) error {
	return errors.New("avro: ValidateDatum not implemented") // TODO(avro walker helper)
}
