"""txn.py drives python3-confluent-kafka's (librdkafka's) transactional
producer against a Sluice node for broker/kafka's transaction test.

Usage: /usr/bin/python3 txn.py BROKER IN OUT N GROUP. It commits one
transaction (record "committed" to OUT), aborts one ("aborted" to OUT),
then runs consume-transform-produce: it reads N records of IN in GROUP
(read_committed, the librdkafka default) and, in transactions of up to 50
records, produces "out-" + value to OUT and commits the consumed offsets
with send_offsets_to_transaction. It prints one JSON document on stdout and
exits 0, or prints the error and exits 1.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer


def main():
    broker, src, dst, n, group = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    p = Producer({"bootstrap.servers": broker, "transactional.id": f"py-{group}", "transaction.timeout.ms": 30000})
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(dst, key="c", value="committed")
    p.commit_transaction(30)
    p.begin_transaction()
    p.produce(dst, key="a", value="aborted")
    p.flush(30)
    p.abort_transaction(30)

    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 10000,
    })
    c.subscribe([src])
    done, rounds = 0, 0
    deadline = time.time() + 90
    while done < n and time.time() < deadline:
        msgs = c.consume(50, 1.0)
        msgs = [m for m in msgs if m.error() is None or m.error().code() != KafkaError._PARTITION_EOF]
        if not msgs:
            continue
        for m in msgs:
            if m.error():
                raise KafkaException(m.error())
        p.begin_transaction()
        for m in msgs:
            p.produce(dst, key=m.key(), value=b"out-" + m.value())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        done += len(msgs)
        rounds += 1
    c.close()
    if done < n:
        raise RuntimeError(f"transformed {done} of {n} records before the deadline")
    return {"transformed": done, "rounds": rounds}


if __name__ == "__main__":
    try:
        out = main()
    except Exception as e:  # noqa: BLE001 - report any failure to the Go test
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out))
