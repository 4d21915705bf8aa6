// client.js drives kafkajs against a Sluice node for broker/kafka's tests.
// Usage: node client.js MODE BROKER TOPIC [ARGS...]; it prints one JSON
// document on stdout and exits 0, or prints the error and exits 1.
//
// Modes:
//   produce BROKER TOPIC N          produce N keyed records k<i> -> v<i>
//   consume BROKER TOPIC N GROUP    consume N records in GROUP (read_committed,
//                                   kafkajs's default), commit, print them
//   refused BROKER TOPIC VALUE_HEX  produce one record; print the error type
//   admin   BROKER TOPIC            createTopics, fetchTopicMetadata, describeConfigs
//   txn     BROKER TOPIC            commit one transaction, abort another
'use strict';
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

const [mode, broker, topic, ...args] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'sluice-kafkajs-test', brokers: [broker], logLevel: logLevel.NOTHING, retry: { retries: 3 } });

async function produce(n) {
  const p = kafka.producer();
  await p.connect();
  const messages = [];
  for (let i = 0; i < n; i++) messages.push({ key: `k${i}`, value: `v${i}` });
  const res = await p.send({ topic, messages, acks: -1 });
  await p.disconnect();
  return { produced: n, partitions: res.map((r) => ({ partition: r.partition, baseOffset: r.baseOffset, errorCode: r.errorCode })) };
}

async function consume(n, group) {
  const c = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${got.length} of ${n} records before the deadline`)), 60000);
    c.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: message.offset, key: message.key && message.key.toString(), value: message.value && message.value.toString() });
        if (got.length >= n) { clearTimeout(timer); resolve(); }
      },
    }).catch(reject);
  });
  await c.disconnect();
  return { consumed: got.length, records: got };
}

async function refused(valueHex) {
  const p = kafka.producer({ retry: { retries: 0 } });
  await p.connect();
  try {
    await p.send({ topic, messages: [{ value: Buffer.from(valueHex, 'hex') }], acks: -1 });
    return { refused: false };
  } catch (e) {
    return { refused: true, type: e.type || (e.originalError && e.originalError.type) || e.name, message: e.message };
  } finally {
    await p.disconnect();
  }
}

async function admin() {
  const a = kafka.admin();
  await a.connect();
  const created = await a.createTopics({ topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
  const meta = await a.fetchTopicMetadata({ topics: [topic] });
  const cfg = await a.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
  await a.disconnect();
  const entries = cfg.resources[0].configEntries.filter((e) => e.configName === 'retention.ms');
  return { created, partitions: meta.topics[0].partitions.length, retentionMs: entries.length ? entries[0].configValue : null };
}

async function txn() {
  const p = kafka.producer({ transactionalId: `sluice-kafkajs-${topic}`, idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const t1 = await p.transaction();
  await t1.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
  await t1.commit();
  const t2 = await p.transaction();
  await t2.send({ topic, messages: [{ key: 'a', value: 'aborted' }] });
  await t2.abort();
  await p.disconnect();
  return { committed: 1, aborted: 1 };
}

async function main() {
  switch (mode) {
    case 'produce': return produce(Number(args[0]));
    case 'consume': return consume(Number(args[0]), args[1]);
    case 'refused': return refused(args[0]);
    case 'admin': return admin();
    case 'txn': return txn();
    default: throw new Error(`unknown mode ${mode}`);
  }
}

main().then(
  (out) => { process.stdout.write(JSON.stringify(out) + '\n'); process.exit(0); },
  (err) => { process.stderr.write(`${err.stack || err}\n`); process.exit(1); },
);
