// A real client against a server: nats.js (nats@2) connects to the URL given
// as the last argument, subscribes (plain, wildcard, queue), publishes
// COUNT sequenced messages, flushes and checks that every subscriber got
// every message in order, then does request/reply (and a request nobody
// answers), drains a subscription whose handler is slow, and drains the
// connection. Exit status 0 only when everything was right.
import { connect, ErrorCode, StringCodec } from "nats";

const COUNT = 100000;
const REQUESTS = 100;
const SLOW = 300; // messages through a slow handler
const WAIT_MS = 60000; // bound of every wait

const sc = StringCodec();
let failed = false;
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  failed = true;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One subscription's view of a sequenced stream.
function stream(name) {
  return { name, next: 1, received: 0, misorder: 0 };
}
function see(s, data) {
  const seq = Number(sc.decode(data));
  if (seq !== s.next) s.misorder++;
  s.next = seq + 1;
  s.received++;
}
function check(s, count) {
  if (s.received !== count || s.misorder !== 0)
    fail(`${s.name}: received ${s.received} of ${count}, ${s.misorder} out of order`);
  else console.log(`ok: ${s.name} received ${s.received} in order`);
}
async function waitFor(pred) {
  const deadline = Date.now() + WAIT_MS;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}
function publishSeq(nc, subj, count) {
  for (let i = 1; i <= count; i++) nc.publish(subj, sc.encode(String(i)));
}
// A subscription consumed by a loop whose handler takes time per message.
function slowConsumer(nc, subj, s) {
  const sub = nc.subscribe(subj);
  const done = (async () => {
    for await (const m of sub) {
      await sleep(0.5); // the point: a handler that takes time
      see(s, m.data);
    }
  })();
  return { sub, done };
}

async function main() {
  const url = process.argv[process.argv.length - 1];
  const nc = await connect({ servers: url, reconnect: false, timeout: 5000 });
  console.log(`ok: connected to ${url}`);
  const closed = nc.closed();

  const plain = stream("plain sub seq.plain");
  const wild = stream("wildcard sub seq.*");
  const queue = stream("queue sub seq.plain/q");
  const onErr = (name) => (err) => err && fail(`${name}: ${err.message}`);
  nc.subscribe("seq.plain", { callback: (e, m) => (onErr("plain")(e), see(plain, m.data)) });
  nc.subscribe("seq.*", { callback: (e, m) => (onErr("wild")(e), see(wild, m.data)) });
  nc.subscribe("seq.plain", {
    queue: "q",
    callback: (e, m) => (onErr("queue")(e), see(queue, m.data)),
  });
  let t0 = Date.now();
  publishSeq(nc, "seq.plain", COUNT);
  await nc.flush();
  console.log(`ok: published and flushed ${COUNT} in ${Date.now() - t0} ms`);
  if (!(await waitFor(() => plain.received >= COUNT && wild.received >= COUNT && queue.received >= COUNT)))
    fail("timed out waiting for the stream");
  check(plain, COUNT);
  check(wild, COUNT);
  check(queue, COUNT);

  // Request/reply, then a request nobody answers (no responders).
  nc.subscribe("svc.echo", {
    callback: (e, m) => m.respond(sc.encode(`echo:${sc.decode(m.data)}`)),
  });
  await nc.flush();
  for (let i = 0; i < REQUESTS; i++) {
    const r = await nc.request("svc.echo", sc.encode(`req-${i}`), { timeout: 5000 });
    if (sc.decode(r.data) !== `echo:req-${i}`) fail(`request ${i}: reply '${sc.decode(r.data)}'`);
  }
  console.log(`ok: ${REQUESTS} requests answered`);
  try {
    await nc.request("svc.nobody", sc.encode("x"), { timeout: 5000 });
    fail("request to nobody got a reply");
  } catch (err) {
    if (err.code !== ErrorCode.NoResponders) fail(`request to nobody: ${err.code} ${err.message}`);
    else console.log("ok: request to nobody gets no responders");
  }

  // Subscription drain with a slow handler: every message already sent to us
  // is handled before the drain completes.
  const slow = stream("slow sub (drained)");
  const s1 = slowConsumer(nc, "slow.sub", slow);
  await nc.flush();
  publishSeq(nc, "slow.sub", SLOW);
  await nc.flush();
  await s1.sub.drain();
  await s1.done;
  if (slow.received !== SLOW || slow.misorder) fail(`sub drain completed after ${slow.received} of ${SLOW}`);
  nc.publish("slow.sub", sc.encode("999999"));
  await nc.flush();
  if (slow.received !== SLOW) fail("message handled after the sub drain completed");
  else console.log(`ok: sub drained: ${slow.received} handled before completion, none after`);

  // Connection drain: in-flight messages are handled, then it closes.
  const slowConn = stream("slow sub (connection drained)");
  const s2 = slowConsumer(nc, "slow.conn", slowConn);
  await nc.flush();
  publishSeq(nc, "slow.conn", SLOW);
  await nc.flush();
  t0 = Date.now();
  await nc.drain();
  await s2.done;
  const err = await closed;
  if (err) fail(`closed with error: ${err.message}`);
  if (!nc.isClosed()) fail("connection not closed after drain");
  if (slowConn.received !== SLOW || slowConn.misorder)
    fail(`connection drain closed after ${slowConn.received} of ${SLOW} handled`);
  else console.log(`ok: connection drained: ${slowConn.received} handled, then closed`);
}

const timer = setTimeout(() => {
  fail(`timed out after ${2 * WAIT_MS} ms`);
  process.exit(1);
}, 2 * WAIT_MS);
main()
  .catch((err) => fail(`${err.code || ""} ${err.message}`))
  .finally(() => {
    clearTimeout(timer);
    console.log(failed ? "FAILED" : "PASSED");
    process.exit(failed ? 1 : 0);
  });
