package kafka_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestKcatMetadata: `kcat -L` (librdkafka) lists broker 0 at the advertised
// address, controller 0 and each topic's partitions led by 0 with ISR [0].
func TestKcatMetadata(t *testing.T) {
	addr, _, srv := startServer(t)
	createTopicCore(t, srv, "listed", 3, nil)
	out, errOut, err := kcat(t, "", "-L", "-J", "-b", addr, "-m", "30")
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, errOut)
	}
	var md struct {
		ControllerID int `json:"controllerid"`
		Brokers      []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"brokers"`
		Topics []struct {
			Topic      string `json:"topic"`
			Partitions []struct {
				Partition int `json:"partition"`
				Leader    int `json:"leader"`
				Replicas  []struct {
					ID int `json:"id"`
				} `json:"replicas"`
				ISRs []struct {
					ID int `json:"id"`
				} `json:"isrs"`
			} `json:"partitions"`
		} `json:"topics"`
	}
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		t.Fatalf("kcat -L -J output: %v\n%s", err, out)
	}
	if md.ControllerID != 0 || len(md.Brokers) != 1 || md.Brokers[0].ID != 0 || md.Brokers[0].Name != addr {
		t.Fatalf("kcat -L: controller %d brokers %+v; want broker 0 at %s\n%s", md.ControllerID, md.Brokers, addr, out)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != "listed" || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("kcat -L topics: %+v", md.Topics)
	}
	for _, p := range md.Topics[0].Partitions {
		if p.Leader != 0 || fmt.Sprint(p.Replicas) != "[{0}]" || fmt.Sprint(p.ISRs) != "[{0}]" {
			t.Fatalf("partition %+v", p)
		}
	}
}
