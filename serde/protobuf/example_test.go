package protobuf_test

import (
	"fmt"

	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/serde/protobuf"
)

func Example() {
	refs := []serde.Referenced{{
		Name: "shop/v1/money.proto",
		Text: `syntax = "proto3"; package shop.v1; message Money { string currency = 1; int64 units = 2; }`,
	}}
	s, err := protobuf.Parse(`syntax = "proto3";
package shop.v1;
import "shop/v1/money.proto";
// An order.
message Order {
  string id = 1;
  Money total = 2;
  message Line { string sku = 1; }
}`, refs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(s.Canonical())
	path, _ := s.IndexesOf("shop.v1.Order.Line")
	fmt.Println(s.Name(), s.Dependencies(), path)
	// Output:
	// syntax = "proto3";
	//
	// package shop.v1;
	//
	// import "shop/v1/money.proto";
	//
	// message Order {
	//   string id = 1;
	//   Money total = 2;
	//   message Line {
	//     string sku = 1;
	//   }
	// }
	// shop.v1.Order [shop/v1/money.proto] [0 0]
}

func ExampleParse_error() {
	_, err := protobuf.Parse("syntax = \"proto3\";\nmessage A {\n  required int32 x = 1;\n}\n", nil)
	fmt.Println(err)
	// Output:
	// protobuf: 3:3: field A.x: label 'required' is not allowed in proto3 or editions
}
