package kafka_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConfluentKafkaPythonAdmin: librdkafka's AdminClient (Python) creates a
// compacted topic, is refused replication factor 3, reads the topic's
// cleanup.policy, adds partitions, lists the topic with broker 0 at the
// advertised address and deletes it.
func TestConfluentKafkaPythonAdmin(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
		missingClient(t, "%s cannot import confluent_kafka (apt-get install python3-confluent-kafka; .ci/run does): %v", py, err)
	}
	addr, _, srv := startServer(t)
	script, _ := filepath.Abs(filepath.Join("testdata", "python", "admin.py"))
	var got struct {
		Create           *struct{ Name, Message string } `json:"create"`
		CreateRF3        *struct{ Name, Message string } `json:"create_rf3"`
		CreatePartitions *struct{ Name, Message string } `json:"create_partitions"`
		Delete           *struct{ Name, Message string } `json:"delete"`
		CleanupPolicy    string                          `json:"cleanup_policy"`
		Partitions       int                             `json:"partitions"`
		Brokers          []string                        `json:"brokers"`
	}
	runClient(t, &got, py, script, addr, "py-admin")
	if got.Create != nil || got.CreatePartitions != nil || got.Delete != nil {
		t.Fatalf("admin calls failed: %+v %+v %+v", got.Create, got.CreatePartitions, got.Delete)
	}
	if got.CreateRF3 == nil || got.CreateRF3.Name != "INVALID_REPLICATION_FACTOR" {
		t.Fatalf("replication factor 3: %+v", got.CreateRF3)
	}
	if got.CleanupPolicy != "compact" || got.Partitions != 5 || fmt.Sprint(got.Brokers) != "["+addr+"]" {
		t.Fatalf("got %+v", got)
	}
	if _, err := srv.Broker.DescribeTopic("py-admin"); err == nil {
		t.Fatal("the topic survived delete_topics")
	}
}
