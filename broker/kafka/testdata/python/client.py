"""client.py drives python3-confluent-kafka (librdkafka) against a Sluice node
for broker/kafka's tests.

Usage: /usr/bin/python3 client.py MODE BROKER TOPIC [ARGS...]. It prints one
JSON document on stdout and exits 0, or prints the error and exits 1.

Modes:
  produce BROKER TOPIC N          idempotent producer: N keyed records k<i> -> v<i>
  consume BROKER TOPIC N GROUP    consume N records in GROUP, commit, print them
  refused BROKER TOPIC VALUE_HEX  produce one record; print the delivery error
  admin   BROKER TOPIC            create_topics, describe_configs, create_partitions, list_groups
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic


def produce(broker, topic, n):
    p = Producer({"bootstrap.servers": broker, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=on_delivery)
        p.poll(0)
    left = p.flush(30)
    if left or errors:
        raise RuntimeError(f"{left} records undelivered, errors: {errors[:3]}")
    return {"produced": n}


def consume(broker, topic, n, group):
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
    })
    c.subscribe([topic])
    got = []
    deadline = time.time() + 60
    while len(got) < n and time.time() < deadline:
        msg = c.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise KafkaException(msg.error())
        got.append({"partition": msg.partition(), "offset": msg.offset(),
                    "key": msg.key().decode() if msg.key() is not None else None,
                    "value": msg.value().decode() if msg.value() is not None else None})
    if len(got) < n:
        raise RuntimeError(f"consumed {len(got)} of {n} records before the deadline")
    c.commit(asynchronous=False)
    c.close()
    return {"consumed": len(got), "records": got}


def refused(broker, topic, value_hex):
    p = Producer({"bootstrap.servers": broker, "acks": "all", "message.send.max.retries": 0})
    result = {}

    def on_delivery(err, msg):
        if err is None:
            result.update(refused=False)
        else:
            result.update(refused=True, code=err.code(), name=err.name(), text=err.str())

    p.produce(topic, value=bytes.fromhex(value_hex), on_delivery=on_delivery)
    p.flush(30)
    return result


def admin(broker, topic):
    a = AdminClient({"bootstrap.servers": broker})
    for f in a.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                       config={"retention.ms": "3600000"})]).values():
        f.result(30)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([res])[res].result(30)
    for f in a.create_partitions([NewPartitions(topic, 4)]).values():
        f.result(30)
    md = a.list_topics(topic, timeout=30)
    groups = a.list_groups(timeout=30)
    return {
        "retention.ms": configs["retention.ms"].value,
        "partitions": len(md.topics[topic].partitions),
        "brokers": [f"{b.host}:{b.port}" for b in md.brokers.values()],
        "groups": sorted(g.id for g in groups),
    }


def main():
    mode, broker, topic, *args = sys.argv[1:]
    if mode == "produce":
        out = produce(broker, topic, int(args[0]))
    elif mode == "consume":
        out = consume(broker, topic, int(args[0]), args[1])
    elif mode == "refused":
        out = refused(broker, topic, args[0])
    elif mode == "admin":
        out = admin(broker, topic)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the Go test prints stderr on failure
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
