"""One confluent-kafka (librdkafka) consumer in a group, for broker/kafka's
tests. Usage: /usr/bin/python3 group_consumer.py BROKER GROUP TOPIC

It prints one line per event on stdout, flushed at once:
  assign P,P,...     on_assign (the partitions it now owns)
  revoke P,P,...     on_revoke
  record P VALUE     a consumed record, after its offset was committed
and exits 0 on SIGTERM after closing (commit, LeaveGroup).
"""
import signal
import sys

from confluent_kafka import Consumer, KafkaException

broker, group, topic = sys.argv[1:4]
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def show(kind, parts):
    print(kind, ",".join(str(p.partition) for p in parts), flush=True)


c = Consumer({
    "bootstrap.servers": broker,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 300,
})
c.subscribe([topic], on_assign=lambda _, ps: show("assign", ps), on_revoke=lambda _, ps: show("revoke", ps))
try:
    while running:
        msgs = c.consume(num_messages=100, timeout=0.2)
        good = []
        for m in msgs:
            if m.error():
                print("error", m.error(), file=sys.stderr, flush=True)
                continue
            good.append(m)
        if good:
            c.commit(asynchronous=False)
            for m in good:
                print("record", m.partition(), m.value().decode(), flush=True)
finally:
    c.close()
