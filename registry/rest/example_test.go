package rest_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/internal/metadb"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/registry/rest"
)

// Serve a registry over the Confluent REST API and register a schema the
// way a Confluent serializer does.
func ExampleNewHandler() {
	dir, err := os.MkdirTemp("", "sluice-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := metadb.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	reg, err := registry.Open(context.Background(), registry.Config{DB: db})
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()

	srv := httptest.NewServer(rest.NewHandler(reg, rest.Config{}))
	defer srv.Close()

	body := `{"schema":"{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}"}`
	resp, err := http.Post(srv.URL+"/subjects/orders-value/versions", "application/vnd.schemaregistry.v1+json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
	fmt.Println(string(answer))
	// Output:
	// 200 application/vnd.schemaregistry.v1+json
	// {"id":1,"version":1,"guid":"b040db4b-fdae-23ea-4a07-95f3973b98c8","schema":"{\"type\":\"record\",\"name\":\"Order\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}"}
}
