// group_consumer.js runs one kafkajs consumer in a group for broker/kafka's
// tests. Usage: node group_consumer.js BROKER GROUP TOPIC
//
// It prints one line per event on stdout:
//   assign P,P,...     after each GROUP_JOIN (the partitions it now owns)
//   record P VALUE     a consumed record, after its offset was committed
// and exits 0 on SIGTERM after disconnecting (LeaveGroup).
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const [broker, group, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'sluice-kafkajs-group', brokers: [broker], logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 300, maxWaitTimeInMs: 500 });

async function main() {
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    console.log('assign ' + (e.payload.memberAssignment[topic] || []).join(','));
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      console.log(`record ${partition} ${message.value.toString()}`);
    },
  });
}

process.on('SIGTERM', async () => {
  await consumer.disconnect();
  process.exit(0);
});
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
