package codegen

import "testing"

func TestExportName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"orders", "Orders"},
		{"order-audit.v1", "OrderAuditV1"},
		{"ship_to", "ShipTo"},
		{"user_id", "UserID"},
		{"id", "ID"},
		{"totalCents", "TotalCents"},
		{"HTTPStatus", "HTTPStatus"},
		{"9lives", "X9lives"},
		{"__", ""},
		{"customer.json", "CustomerJSON"},
		{"sku", "SKU"},
	}
	for _, tt := range tests {
		if got := exportName(tt.in); got != tt.want {
			t.Errorf("exportName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLowerFirst(t *testing.T) {
	tests := []struct{ in, want string }{
		{"OrderAvsc", "orderAvsc"},
		{"IDSchema", "idSchema"},
		{"JSON", "json"},
		{"X", "x"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := lowerFirst(tt.in); got != tt.want {
			t.Errorf("lowerFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestGoString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\ntext", "`plain\ntext`"},
		{"has `tick`", "\"has `tick`\""},
		{"cr\r\n", "\"cr\\r\\n\""},
		{"\x00nul", "\"\\x00nul\""},
	}
	for _, tt := range tests {
		if got := goString(tt.in); got != tt.want {
			t.Errorf("goString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
