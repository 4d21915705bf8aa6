package avro_test

import (
	"fmt"

	"github.com/sluicehq/sluice/serde/avro"
)

func ExampleSchema_ValidateDatum() {
	s := avro.MustParse(`{"type":"record","name":"Order","fields":[{"name":"items","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"price","type":"long"}]}}}]}`)
	fmt.Println(s.ValidateDatum([]byte{0x04, 0x02, 0x04, 0x00})) // two lines, prices 1 and 2
	fmt.Println(s.ValidateDatum([]byte{0x04, 0x02, 0x80}))       // the second price is cut short
	// Output:
	// <nil>
	// /items/1/price: expected long, got end of input (at byte 2)
}
