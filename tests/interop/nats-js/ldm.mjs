// nats.js (nats@2) and lame duck mode, run by `nm_interop_run --ldm`:
//   node ldm.mjs URL_A URL_B PID_A
// connects with the server list A, B (in that order), checks it is on A and
// that a publish/subscribe round trip works, puts A in lame duck mode
// (SIGUSR2 to PID_A), then expects the "ldm" status event, a "reconnect"
// event to B (once A closes the connection after its grace period) and a
// round trip on B through the subscription made on A. Every wait is bounded;
// exit 0 only when all of it happened.
import { connect, Events, StringCodec } from "nats";

const WAIT_MS = 15000; // bound of every wait (the grace period is 1 s)
const [urlA, urlB, pidA] = process.argv.slice(-3);
const sc = StringCodec();
let failed = false;
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  failed = true;
};
const hostport = (u) => new URL(u).host;

const seen = { ldm: -1, reconnect: -1, reconnectTo: "", msgs: 0 };
const waiters = [];
const wake = () => waiters.splice(0).forEach((w) => w());
async function waitFor(pred) {
  const deadline = Date.now() + WAIT_MS;
  while (!pred()) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await new Promise((r) => {
      waiters.push(r);
      setTimeout(r, left);
    });
  }
  return true;
}

const nc = await connect({
  servers: [urlA, urlB],
  noRandomize: true,
  reconnectTimeWait: 100,
  maxReconnectAttempts: 50,
});
let t0 = Date.now();
(async () => {
  for await (const s of nc.status()) {
    if (s.type === Events.LDM && seen.ldm < 0) seen.ldm = Date.now() - t0;
    if (s.type === Events.Reconnect && seen.reconnect < 0) {
      seen.reconnect = Date.now() - t0;
      seen.reconnectTo = String(s.data);
    }
    wake();
  }
})();
const sub = nc.subscribe("ldm.check");
(async () => {
  for await (const m of sub) {
    sc.decode(m.data);
    seen.msgs++;
    wake();
  }
})();

async function roundTrip(expect) {
  nc.publish("ldm.check", sc.encode("x"));
  await nc.flush();
  if (!(await waitFor(() => seen.msgs >= expect)))
    fail(`message ${expect} not received`);
}

if (nc.getServer() !== hostport(urlA))
  fail(`connected to ${nc.getServer()}, not A (${urlA})`);
await roundTrip(1);
t0 = Date.now();
process.kill(Number(pidA), "SIGUSR2");
if (!(await waitFor(() => seen.ldm >= 0)))
  fail(`no "ldm" status within ${WAIT_MS} ms`);
if (!(await waitFor(() => seen.reconnect >= 0))) {
  fail(`no reconnect within ${WAIT_MS} ms`);
} else {
  if (nc.getServer() !== hostport(urlB))
    fail(`reconnected to ${nc.getServer()}, not B (${urlB})`);
  await roundTrip(2);
}
console.log(
  `nats.js: ldm status after ${seen.ldm} ms, reconnected after ` +
    `${seen.reconnect} ms to ${nc.getServer()}, round trip on B ` +
    (seen.msgs >= 2 ? "ok" : "missing"),
);
await nc.close();
process.exit(failed ? 1 : 0);
