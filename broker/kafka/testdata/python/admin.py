"""Admin calls through python3-confluent-kafka (librdkafka's AdminClient)
against a Sluice Kafka listener; prints one JSON object with what each call
answered. Usage: admin.py BOOTSTRAP TOPIC"""

import json
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, ConfigResource, NewPartitions,
                                   NewTopic)


def outcome(future):
    """None on success, else the Kafka error name and message."""
    try:
        future.result()
        return None
    except KafkaException as e:
        err = e.args[0]
        return {"name": err.name(), "message": err.str()}


def main():
    bootstrap, topic = sys.argv[1], sys.argv[2]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    out = {}
    fs = admin.create_topics([NewTopic(topic, 3, 1, config={"cleanup.policy": "compact"})], request_timeout=20)
    out["create"] = outcome(fs[topic])
    fs = admin.create_topics([NewTopic(topic + "-rf3", 1, 3)], request_timeout=20)
    out["create_rf3"] = outcome(fs[topic + "-rf3"])
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([res], request_timeout=20)[res].result()
    out["cleanup_policy"] = configs["cleanup.policy"].value
    fs = admin.create_partitions([NewPartitions(topic, 5)], request_timeout=20)
    out["create_partitions"] = outcome(fs[topic])
    md = admin.list_topics(topic=topic, timeout=20)
    out["partitions"] = len(md.topics[topic].partitions)
    out["brokers"] = ["%s:%d" % (b.host, b.port) for b in md.brokers.values()]
    fs = admin.delete_topics([topic], request_timeout=20)
    out["delete"] = outcome(fs[topic])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
